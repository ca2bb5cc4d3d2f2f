#!/usr/bin/env python3
"""test_stats.py — every server lesson keeps its concept first and its
length near the classic guides' (mk/lesson-stats.py --check), and the
measure itself counts what it says: a made-up lesson tree with known
numbers, one below each floor."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
STATS = os.path.join(ROOT, "mk", "lesson-stats.py")
failed = 0


def check(what, ok, detail=""):
    global failed
    print("%s %s%s" % ("ok  " if ok else "FAIL", what, (": " + detail) if detail and not ok else ""))
    if not ok:
        failed += 1


def run(*args):
    return subprocess.run([sys.executable, STATS] + list(args), capture_output=True, text=True, timeout=60)


# 1. The real lessons are at or above the floors.
r = run("--check")
check("every server lesson is at or above the floors", r.returncode == 0, r.stderr + r.stdout)

# 2. A made-up lesson of 36 lines: 28 with code, of which 17 are concept
# (main and its body, and other() with its wrapped signature); the 2
# #include lines, the forward declarations (one wrapped over two lines)
# and the 6 code lines after the plumbing marker are not.
CONCEPT = "\n".join("\tx += %d; /* a comment */" % i for i in range(8))
GOOD = """/* server.c: a header comment
 * over two lines */
#include <stdio.h>
#include <string.h>

static int step(int x);
static int other(int a,
		 int b);

int main(void)
{
%s
	return step(0);
}

static int other(int a,
		 int b)
{
	return a + b;
}

/* ---- Plumbing: the command line ---- */
static int step(int x)
{
	// a line comment
	x++;
	x--;
	return x;
}
""" % CONCEPT

with tempfile.TemporaryDirectory() as tmp:
    lesson = os.path.join(tmp, "lessons", "90-made-up")
    os.makedirs(lesson)
    with open(os.path.join(lesson, "server.c"), "w") as f:
        f.write(GOOD)
    with open(os.path.join(lesson, "README.md"), "w") as f:
        f.write("<!-- classic: server.c 24 -->\n")
    r = run("--root", tmp, "--check")
    row = [l for l in r.stdout.splitlines() if l.startswith("90-made-up/server.c")]
    fields = row[0].split() if row else []
    check("the made-up lesson is counted: 36 lines, 28 code, 17 concept",
          fields[1:4] == ["36", "28", "17"], r.stdout)
    check("61% concept is below the 65% floor and fails --check",
          r.returncode == 1 and "concept 61% < 65%" in r.stderr, r.stderr)

    # Eight more concept lines: 25 of 36 (69%) is above the floor, and
    # 36 code lines are within 1.6 x 24 = 38.4.
    with open(os.path.join(lesson, "server.c"), "w") as f:
        f.write(GOOD.replace(CONCEPT, CONCEPT + "\n" + CONCEPT))
    r = run("--root", tmp, "--check")
    check("25 of 36 code lines (69%) passes, 36 <= 1.6 x 24", r.returncode == 0, r.stdout + r.stderr)

    with open(os.path.join(lesson, "README.md"), "w") as f:
        f.write("<!-- classic: server.c 22 -->\n")
    r = run("--root", tmp, "--check")
    check("36 code lines against a classic of 22 (limit 35.2) fails",
          r.returncode == 1 and "36 code lines > 1.6 x 22" in r.stderr, r.stderr)

    with open(os.path.join(lesson, "README.md"), "w") as f:
        f.write("<!-- classic: server.c 22 x1.7 -->\n")
    r = run("--root", tmp, "--check")
    check("a lesson's own limit (1.7 x 22 = 37.4) holds it: 36 passes", r.returncode == 0, r.stderr)
    with open(os.path.join(lesson, "README.md"), "w") as f:
        f.write("<!-- classic: server.c 22 x1.6 -->\n")
    r = run("--root", tmp, "--check")
    check("... and 1.6 x 22 = 35.2 fails it", r.returncode == 1 and "> 1.6 x 22" in r.stderr, r.stderr)

print("test_stats: %s" % ("all passed" if failed == 0 else "%d failed" % failed))
sys.exit(1 if failed else 0)
