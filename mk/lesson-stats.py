#!/usr/bin/env python3
"""lesson-stats.py — how much of each lesson source is the lesson itself.

  mk/lesson-stats.py            a table: every lesson source (.c, .h; the
                                symlinked copies once, under their own name)
  mk/lesson-stats.py --check    the table, then exit 1 when a server lesson
                                is below the floors below
  --root DIR                    measure the lessons under DIR/lessons
                                (default: this checkout)

For each file it counts
  lines     every line
  code      lines with code on them (not blank, not only a comment)
  concept   code lines that are the lesson: all code lines but
            - #include lines and forward declarations ("static ...);", on
              one line or wrapped over several),
            - the plumbing: everything after the line that opens the
              file's plumbing section, a comment starting "---- Plumbing",
            - and, in files that have no such section (as before this rule),
              the bodies of functions named like the old plumbing: usage,
              parse_options (parse_*, *_options), install_*, on_*signal*.
  ratio     concept / code: the floor is on this one. Comments are the
            lesson's prose and blank lines its paragraphs; counting them
            against the concept would reward deleting explanations.
  of file   concept / lines, for comparison

The floors (--check), for every server lesson (a program named *server.c):
  concept ratio >= CONCEPT_FLOOR, and for the lessons that a classic guide
  has an equivalent of, code lines <= CLASSIC_FACTOR x the classic's count.
  A lesson's README names that classic and its count in a line
      <!-- classic: server.c 149 -->
  (the program, then the classic's code lines, counted by the same rule:
  not blank, not only a comment); the README's prose cites the source.
  Where a lesson teaches more than its classic can show in 1.6 times the
  lines, the line may set the lesson's own limit, measured and explained
  in the README's prose, e.g. <!-- classic: server.c 70 x2.9 -->; the
  check then holds the lesson to it.
"""
import os
import re
import sys

CONCEPT_FLOOR = 0.65
CLASSIC_FACTOR = 1.6
# Functions that were plumbing before the rule (usage, option parsing,
# signal set-up), by name.
OLD_PLUMBING = re.compile(r"^(usage|parse_\w*|\w*_options|install_\w*|on_\w*signal\w*|"
                          r"on_stop\w*|\w*signal_handlers?|setup_signals?)$")

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def code_lines(text):
    """Yield (line, code) for each line: code is the line with comments
    removed (string and character literals kept whole)."""
    in_comment = False
    for line in text.splitlines():
        out = []
        i = 0
        quote = None
        while i < len(line):
            c = line[i]
            if in_comment:
                if line.startswith("*/", i):
                    in_comment = False
                    i += 2
                else:
                    i += 1
                continue
            if quote:
                out.append(c)
                if c == "\\" and i + 1 < len(line):
                    out.append(line[i + 1])
                    i += 2
                    continue
                if c == quote:
                    quote = None
                i += 1
                continue
            if line.startswith("/*", i):
                in_comment = True
                i += 2
                continue
            if line.startswith("//", i):
                break
            if c in "\"'":
                quote = c
            out.append(c)
            i += 1
        yield line, "".join(out).strip()


FUNC_START = re.compile(r"^(?:static\s+)?(?:noreturn\s+)?[A-Za-z_][\w\s\*]*?\b(\w+)\s*\(")
PLUMBING_MARK = re.compile(r"/\*\s*-+\s*Plumbing")
FORWARD = re.compile(r"^(static\s|extern\s).*\)\s*;$")


def measure(path):
    text = open(path, encoding="utf-8").read()
    has_mark = PLUMBING_MARK.search(text) is not None
    total = code = concept = 0
    in_plumbing = False
    depth = 0            # brace depth
    old_plumbing_fn = False
    # A declaration wrapped over several lines is known to be a forward
    # declaration only at its last line (");"), a definition's signature
    # at its "{": the concept lines of such a run wait here until then.
    held = 0
    for line, stripped in code_lines(text):
        total += 1
        if PLUMBING_MARK.search(line):
            in_plumbing = True
        if not stripped:
            continue
        code += 1
        if depth == 0 and not has_mark:
            m = FUNC_START.match(stripped)
            if m and not stripped.endswith(";"):
                old_plumbing_fn = OLD_PLUMBING.match(m.group(1)) is not None
        plumbing = (in_plumbing or stripped.startswith("#include") or
                    (depth == 0 and FORWARD.match(stripped) is not None) or
                    (old_plumbing_fn and (depth > 0 or not stripped.endswith(";"))))
        if depth == 0 and not plumbing and (held or (
                re.match(r"^(static|extern)\s", stripped) and "(" in stripped and
                not stripped.endswith((";", "{", ")")))):
            held += 1
            if stripped.endswith(");"):
                held = 0              # a forward declaration: not concept
            elif "{" in stripped or stripped.endswith(")"):
                concept += held       # a definition's signature
                held = 0
        elif not plumbing:
            concept += 1
        depth += stripped.count("{") - stripped.count("}")
        if depth <= 0:
            depth = 0
            if stripped.endswith("}"):
                old_plumbing_fn = False
    return total, code, concept + held


def lesson_files():
    base = os.path.join(ROOT, "lessons")
    for d in sorted(os.listdir(base)):
        full = os.path.join(base, d)
        if not (os.path.isdir(full) and re.match(r"^\d\d-", d)):
            continue
        for f in sorted(os.listdir(full)):
            p = os.path.join(full, f)
            if f.endswith((".c", ".h")) and not os.path.islink(p):
                yield d, f, p


def classic_counts(lesson_dir):
    """{program: classic code lines} from the lesson README's markers."""
    readme = os.path.join(ROOT, "lessons", lesson_dir, "README.md")
    found = {}
    if os.path.exists(readme):
        for m in re.finditer(r"<!--\s*classic:\s*(\S+)\s+(\d+)(?:\s+x(\d+(?:\.\d+)?))?\s*-->",
                             open(readme).read()):
            found[m.group(1)] = (int(m.group(2)), float(m.group(3) or CLASSIC_FACTOR))
    return found


def main():
    global ROOT
    args = sys.argv[1:]
    check = False
    while args:
        a = args.pop(0)
        if a == "--check":
            check = True
        elif a == "--root" and args:
            ROOT = args.pop(0)
        else:
            print(__doc__.strip().split("\n\n")[1], file=sys.stdout if a in ("-h", "--help") else sys.stderr)
            return 0 if a in ("-h", "--help") else 2
    failures = []
    print("%-34s %6s %6s %8s %6s %8s  %s" % ("lesson source", "lines", "code", "concept", "ratio",
                                             "of file", "floors (server lessons)"))
    sums = [0, 0, 0]
    for d, f, p in lesson_files():
        total, code, concept = measure(p)
        sums = [sums[0] + total, sums[1] + code, sums[2] + concept]
        ratio = concept / code if code else 0.0
        note = ""
        if f.endswith("server.c"):
            ok = ratio >= CONCEPT_FLOOR
            note = "%s >= %d%%" % ("ok" if ok else "BELOW", CONCEPT_FLOOR * 100)
            if not ok:
                failures.append("%s/%s: concept %.0f%% < %.0f%%" % (d, f, ratio * 100, CONCEPT_FLOOR * 100))
            classic = classic_counts(d).get(f)
            if classic:
                count, factor = classic
                limit = factor * count
                within = code <= limit
                note += "; %.2fx classic %d (limit %.1fx)%s" % (
                    code / count, count, factor, "" if within else " OVER")
                if not within:
                    failures.append("%s/%s: %d code lines > %.1f x %d" % (d, f, code, factor, count))
        print("%-34s %6d %6d %8d %5.0f%% %7.0f%%  %s" % ("%s/%s" % (d, f), total, code, concept,
                                                     ratio * 100, 100.0 * concept / total, note))
    ratio = sums[2] / sums[1] if sums[1] else 0.0
    print("%-34s %6d %6d %8d %5.0f%% %7.0f%%" % ("all lesson sources", sums[0], sums[1], sums[2],
                                              ratio * 100, 100.0 * sums[2] / sums[0]))
    if check:
        for line in failures:
            print("lesson-stats: " + line, file=sys.stderr)
        return 1 if failures else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
