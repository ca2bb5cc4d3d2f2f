#!/usr/bin/env python3
"""plant.py — make a lesson's solution with one bug planted, as a student
might hand it in.

A bug file (tests/exercise/bugs/NN-name.bug) names a lesson, a file and a
function of it, and holds the function's new body:

    lesson: 02
    file: server.c
    function: send_all
    what: one send() whose result is not checked, in place of the loop
    chaos: short-write send
    ---
    {
            return send(fd, buf, len, MSG_NOSIGNAL) < 0 ? -1 : 0;
    }

Only the named function's body (from its opening brace to the matching
closing one) is replaced, so the bug still lands where it should when the
lesson's functions are moved around, reordered or reformatted. "chaos:"
says which fault the checker must blame (the fault and the call).

Usage: plant.py BUGFILE LESSON_DIR OUT_DIR
  writes every .c and .h file of LESSON_DIR to OUT_DIR, the bug planted.
       plant.py --show BUGFILE KEY      prints one header value
       plant.py --inject CODE TARGET FUNC KEY=VALUE...
  puts the C file CODE (@KEY@ replaced by VALUE) at the top of TARGET and
  a call FUNC(); at the start of TARGET's main()
"""
import os
import re
import sys


def read_bug(path):
    head, body = {}, None
    with open(path) as f:
        text = f.read()
    top, sep, rest = text.partition("\n---\n")
    if not sep:
        raise SystemExit(f"{path}: no '---' line before the new body")
    for line in top.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise SystemExit(f"{path}: expected 'key: value', got {line!r}")
        head[key.strip()] = value.strip()
    body = rest
    for key in ("lesson", "file", "function", "what"):
        if key not in head:
            raise SystemExit(f"{path}: no '{key}:' line")
    return head, body


def skip_literal(src, i):
    """i is at a quote: the index after the closing one."""
    q = src[i]
    i += 1
    while i < len(src) and src[i] != q:
        i += 2 if src[i] == "\\" else 1
    return i + 1


def matching_brace(src, i):
    """src[i] == '{': the index of its '}' (comments and literals skipped)."""
    depth = 0
    while i < len(src):
        c = src[i]
        if src.startswith("/*", i):
            i = src.index("*/", i + 2) + 2
            continue
        if src.startswith("//", i):
            i = src.index("\n", i)
            continue
        if c in "\"'":
            i = skip_literal(src, i)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced braces")


def function_body(src, name):
    """(start, end) of name's body, braces included, in C source src: the
    definition is the name at the start of a line or after its return type
    at column 0, followed by its parameters and a '{' (not a ';')."""
    pat = re.compile(r"^(?:[A-Za-z_][^;{}()\n]*[\s*])?" + re.escape(name) + r"\s*\(",
                     re.M)
    for m in pat.finditer(src):
        # Find the parameter list's end, then what follows it.
        depth, i = 0, m.end() - 1
        while i < len(src):
            if src[i] == "(":
                depth += 1
            elif src[i] == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        rest = src[i + 1:]
        after = len(rest) - len(rest.lstrip())
        if rest[after:after + 1] == "{":
            start = i + 1 + after
            return start, matching_brace(src, start) + 1
    raise SystemExit(f"no definition of {name}() found")


def plant(bugfile, lesson_dir, out_dir):
    head, body = read_bug(bugfile)
    target = head["file"]
    os.makedirs(out_dir, exist_ok=True)
    found = False
    for name in sorted(os.listdir(lesson_dir)):
        if not name.endswith((".c", ".h")):
            continue
        with open(os.path.join(lesson_dir, name)) as f:
            src = f.read()
        if name == target:
            start, end = function_body(src, head["function"])
            src = src[:start] + body.strip("\n") + src[end:]
            found = True
        with open(os.path.join(out_dir, name), "w") as f:
            f.write(src)
    if not found:
        raise SystemExit(f"{bugfile}: {lesson_dir} has no {target}")


def inject(code_file, target, call, values):
    """Put code_file's text (each @KEY@ replaced by its value) at the top
    of target, and a call "call();" first thing in target's main()."""
    code = open(code_file).read()
    for kv in values:
        key, _, value = kv.partition("=")
        code = code.replace("@%s@" % key, value)
    src = open(target).read()
    start, _ = function_body(src, "main")
    src = src[:start + 1] + "\n\t%s();\n" % call + src[start + 1:]
    with open(target, "w") as f:
        f.write(code + "\n" + src)


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "--inject":
        inject(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--show":
        head, _ = read_bug(sys.argv[2])
        print(head.get(sys.argv[3], ""))
        return
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    plant(*sys.argv[1:])


if __name__ == "__main__":
    main()
