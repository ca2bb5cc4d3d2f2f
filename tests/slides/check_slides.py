#!/usr/bin/env python3
"""Check that the slides cannot drift from the code.

1. Every lesson folder lessons/NN-topic/ has a deck slides/NN-topic.md
   (a Marp deck: its front matter says `marp: true`).
2. Every fenced code block in a deck whose first line is a comment naming a
   lesson source file (`// lessons/02-tcp-echo/server.c`, `# lessons/...`,
   or lib/lesson's, which later lessons call: `// lib/lesson/stop.c`)
   has all its other lines in that file, verbatim and in one piece.

Run with --self-test to prove the checker itself catches a drifted snippet.
Exit 0 when all holds; 1 with one line per problem otherwise.
"""
import os
import re
import sys
import tempfile

NAMED = re.compile(r"^\s*(?://|#|/\*)\s*((?:lessons|lib)/[\w./-]+?)\s*(?:\*/)?\s*$")
FENCE = re.compile(r"^(```|~~~)")


def code_blocks(text):
    """Yield (line number, lines) for each fenced block of a Markdown text."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, fence = i + 1, m.group(1)
        j = start
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        yield start + 1, lines[start:j]
        i = j + 1


def contains_block(haystack_lines, block):
    """True when block occurs in haystack_lines as consecutive lines."""
    n = len(block)
    if n == 0:
        return True
    for k in range(len(haystack_lines) - n + 1):
        if haystack_lines[k:k + n] == block:
            return True
    return False


def check_deck(root, deck):
    problems = []
    with open(deck, encoding="utf-8") as f:
        text = f.read()
    if not re.match(r"^---\s*\n(?:.*\n)*?marp:\s*true\s*\n(?:.*\n)*?---", text):
        problems.append(f"{deck}: front matter lacks 'marp: true'")
    for lineno, block in code_blocks(text):
        if not block:
            continue
        m = NAMED.match(block[0])
        if not m:
            continue
        src = os.path.join(root, m.group(1))
        if not os.path.isfile(src):
            problems.append(f"{deck}:{lineno}: names {m.group(1)}, which does not exist")
            continue
        with open(src, encoding="utf-8") as f:
            src_lines = f.read().split("\n")
        body = block[1:]
        # Trailing blank lines in a slide are layout, not code.
        while body and body[-1].strip() == "":
            body.pop()
        if not contains_block(src_lines, body):
            problems.append(f"{deck}:{lineno}: snippet is not in {m.group(1)} verbatim")
    return problems


def check_tree(root):
    problems = []
    checked = 0
    lessons_dir = os.path.join(root, "lessons")
    slides_dir = os.path.join(root, "slides")
    lessons = sorted(d for d in os.listdir(lessons_dir)
                     if re.match(r"^\d\d-", d) and os.path.isdir(os.path.join(lessons_dir, d)))
    for lesson in lessons:
        deck = os.path.join(slides_dir, lesson + ".md")
        if not os.path.isfile(deck):
            problems.append(f"lessons/{lesson}: no deck slides/{lesson}.md")
    for name in sorted(os.listdir(slides_dir)):
        if re.match(r"^\d\d-.*\.md$", name):
            problems += check_deck(root, os.path.join(slides_dir, name))
            checked += 1
    return problems, len(lessons), checked


def self_test():
    """The checker must flag a missing deck and a drifted snippet."""
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "lessons", "01-a"))
        os.makedirs(os.path.join(root, "lessons", "02-b"))
        os.makedirs(os.path.join(root, "slides"))
        with open(os.path.join(root, "lessons", "01-a", "x.c"), "w") as f:
            f.write("int main(void)\n{\n\treturn 0;\n}\n")
        good = "---\nmarp: true\n---\n# a\n```c\n// lessons/01-a/x.c\n{\n\treturn 0;\n}\n```\n"
        with open(os.path.join(root, "slides", "01-a.md"), "w") as f:
            f.write(good)
        problems, _, _ = check_tree(root)
        assert problems == ["lessons/02-b: no deck slides/02-b.md"], problems
        with open(os.path.join(root, "slides", "01-a.md"), "w") as f:
            f.write(good.replace("return 0;", "return 1;"))
        problems, _, _ = check_tree(root)
        assert any("not in lessons/01-a/x.c verbatim" in p for p in problems), problems
    print("check_slides self-test: ok")


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if "--self-test" in sys.argv[1:]:
        self_test()
        return 0
    self_test()
    problems, nlessons, ndecks = check_tree(root)
    for p in problems:
        print(p)
    print(f"check_slides: {nlessons} lessons, {ndecks} decks, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
