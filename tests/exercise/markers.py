#!/usr/bin/env python3
"""markers.py — an independent reader of the exercise markers, for the tests.

It knows the format from the lessons' side (a region is the solution between
the lines /* EXERCISE N: task */ and /* END EXERCISE N */; its hint and stub
are the entry "FILE: EXERCISE N: task" of exercise.stubs beside the source)
and the student copy's side (a comment with the students' search word,
"(step N): task ... Hint: hint", followed by the stub lines), and is
written apart from socklab-exercise's C code, so the tests do not trust the
generator to check itself.

  markers.py strip LESSON_FILE
      the lesson file without its marker lines: what a copy with every
      step solved must be, byte for byte
  markers.py restore LESSON_FILE COPY_FILE
      check that COPY_FILE is the lesson file with some regions replaced by
      their comment (task and hint intact) and stub, then put the
      solution's lines back in place of each, as a student who copies the
      solution would; prints the steps it restored
  markers.py stubbed LESSON_FILE COPY_FILE
      only check, and print the steps still to do in the copy ("2 3")
Exit status 0, or 1 with a message saying where the copy differs.
"""
import os
import re
import sys

WORD = "TO" + "DO"  # the students' search word, never written whole here
BEGIN = re.compile(r"^(\s*)/\* EXERCISE (\d+): (.*?)\s*\*/\s*$")
END = re.compile(r"^\s*/\* END EXERCISE (\d+) \*/\s*$")
TASK_START = re.compile(r"^(\s*)/\* " + WORD + r" \(step (\d+)\): ")
KEY = re.compile(r"^(\S+): EXERCISE (\d+): (.*\S)\s*$")


class Mismatch(Exception):
    pass


def read_stubs(path):
    """exercise.stubs as {(file, step, task): {"hint": text, "stub": [lines]}}."""
    entries, e, block = {}, None, None
    with open(path) as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        line = line.rstrip()
        if line.startswith("\t") and block is not None:
            e[block].append(line[1:])
        elif line == "" and block is not None:
            e[block].append(None)  # blank: kept only inside a stub
        elif line.startswith("#") or line == "":
            block = None
        elif line in ("hint:", "stub:"):
            block = line[:-1]
        else:
            m = KEY.match(line)
            if not m:
                raise Mismatch("%s:%d: not an entry's first line: %r" % (path, n, line))
            key = (m.group(1), int(m.group(2)), m.group(3))
            if key in entries:
                raise Mismatch("%s:%d: a second entry for %r" % (path, n, key))
            e = entries[key] = {"hint": [], "stub": []}
            block = None
    for e in entries.values():
        e["hint"] = " ".join(h.strip() for h in e["hint"] if h and h.strip())
        while e["stub"] and e["stub"][-1] is None:
            e["stub"].pop()
        while e["stub"] and e["stub"][0] is None:
            e["stub"].pop(0)
        e["stub"] = [s if s is not None else "" for s in e["stub"]]
    return entries


def parse(lines, path):
    """The regions of the lesson file at path: dicts with step, task, hint,
    stub (list of lines), body (list of lines), first and last (0-based)."""
    entries = None
    name = os.path.basename(path)
    regions = []
    i = 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        if not m:
            i += 1
            continue
        if entries is None:
            entries = read_stubs(os.path.join(os.path.dirname(path) or ".",
                                              "exercise.stubs"))
        key = (name, int(m.group(2)), m.group(3))
        if key not in entries:
            raise Mismatch("line %d: no entry %r in exercise.stubs" % (i + 1, key))
        r = {"indent": m.group(1), "step": key[1], "task": key[2], "first": i,
             "hint": entries[key]["hint"], "stub": entries[key]["stub"]}
        j = i + 1
        while not END.match(lines[j]):
            j += 1
        if int(END.match(lines[j]).group(1)) != r["step"]:
            raise Mismatch("line %d: END of another step" % (j + 1))
        r["body"] = lines[i + 1:j]
        r["last"] = j
        regions.append(r)
        i = j + 1
    return regions


def strip(lines, path):
    out, at = [], 0
    for r in parse(lines, path):
        out += lines[at:r["first"]] + r["body"]
        at = r["last"] + 1
    return out + lines[at:]


def normalize(comment_lines):
    """A comment's words, whatever the wrapping: ' * ' prefixes go."""
    words = []
    for line in comment_lines:
        line = line.strip()
        line = re.sub(r"^/\*", "", line)
        line = re.sub(r"\*/$", "", line)
        line = re.sub(r"^\*", "", line)
        words += line.split()
    return " ".join(words)


def walk(lesson, path, copy):
    """Check copy against lesson; returns (restored lines, stubbed steps)."""
    out, stubbed = [], []
    li = ci = 0

    def same(n_lesson):
        nonlocal li, ci
        while li < n_lesson:
            if ci >= len(copy) or copy[ci] != lesson[li]:
                raise Mismatch("copy line %d differs from lesson line %d:\n  copy:   %r\n"
                               "  lesson: %r" % (ci + 1, li + 1,
                                                 copy[ci] if ci < len(copy) else None,
                                                 lesson[li]))
            out.append(copy[ci])
            li += 1
            ci += 1

    for r in parse(lesson, path):
        same(r["first"])
        m = TASK_START.match(copy[ci]) if ci < len(copy) else None
        if m:
            if int(m.group(2)) != r["step"] or m.group(1) != r["indent"]:
                raise Mismatch("copy line %d: comment for step %s, expected step %d"
                               % (ci + 1, m.group(2), r["step"]))
            start = ci
            while "*/" not in copy[ci]:
                ci += 1
            text = normalize(copy[start:ci + 1])
            for want in ("%s (step %d): %s" % (WORD, r["step"], r["task"]),
                         "Hint: " + r["hint"]):
                if want not in text:
                    raise Mismatch("copy line %d: the comment lacks %r\n  it says: %r"
                                   % (start + 1, want, text))
            ci += 1
            for s in r["stub"]:
                want = r["indent"] + s if s else ""
                if ci >= len(copy) or copy[ci] != want:
                    raise Mismatch("copy line %d: expected stub line %r, got %r"
                                   % (ci + 1, want, copy[ci] if ci < len(copy) else None))
                ci += 1
            stubbed.append(r["step"])
        else:
            for b in r["body"]:
                if ci >= len(copy) or copy[ci] != b:
                    raise Mismatch("copy line %d: expected the solution of step %d: %r"
                                   % (ci + 1, r["step"], b))
                ci += 1
        out += r["body"]
        li = r["last"] + 1
    same(len(lesson))
    if ci != len(copy):
        raise Mismatch("the copy has %d extra lines at the end" % (len(copy) - ci))
    return out, stubbed


def read_lines(path):
    with open(path) as f:
        return f.read().split("\n")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("strip", "restore", "stubbed"):
        sys.exit(__doc__)
    lesson = read_lines(sys.argv[2])
    try:
        if sys.argv[1] == "strip":
            sys.stdout.write("\n".join(strip(lesson, sys.argv[2])))
            return
        restored, stubbed = walk(lesson, sys.argv[2], read_lines(sys.argv[3]))
    except (Mismatch, IndexError, AttributeError, OSError) as e:
        print("%s: %s" % (sys.argv[3] if len(sys.argv) > 3 else sys.argv[2], e))
        sys.exit(1)
    if sys.argv[1] == "restore":
        with open(sys.argv[3], "w") as f:
            f.write("\n".join(restored))
    print(" ".join(str(s) for s in sorted(set(stubbed))))


if __name__ == "__main__":
    main()
