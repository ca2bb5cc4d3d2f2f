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

# 2. A made-up lesson of 28 lines: 21 with code, of which 12 are concept
# (main and its body); the 2 #include lines, the forward declaration and
# the 6 code lines after the plumbing marker are not.
CONCEPT = "\n".join("\tx += %d; /* a comment */" % i for i in range(8))
GOOD = """/* server.c: a header comment
 * over two lines */
#include <stdio.h>
#include <string.h>

static int step(int x);

int main(void)
{
%s
	return step(0);
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
        f.write("<!-- classic: server.c 20 -->\n")
    r = run("--root", tmp, "--check")
    row = [l for l in r.stdout.splitlines() if l.startswith("90-made-up/server.c")]
    fields = row[0].split() if row else []
    check("the made-up lesson is counted: 28 lines, 21 code, 12 concept",
          fields[1:4] == ["28", "21", "12"], r.stdout)
    check("57% concept is below the 65% floor and fails --check",
          r.returncode == 1 and "concept 57% < 65%" in r.stderr, r.stderr)

    # Eight more concept lines: 20 of 29 (69%) is above the floor, and
    # 29 code lines are within 1.6 x 20 = 32.
    with open(os.path.join(lesson, "server.c"), "w") as f:
        f.write(GOOD.replace(CONCEPT, CONCEPT + "\n" + CONCEPT))
    r = run("--root", tmp, "--check")
    check("20 of 29 code lines (69%) passes, 29 <= 1.6 x 20", r.returncode == 0, r.stdout + r.stderr)

    with open(os.path.join(lesson, "README.md"), "w") as f:
        f.write("<!-- classic: server.c 17 -->\n")
    r = run("--root", tmp, "--check")
    check("29 code lines against a classic of 17 (limit 27.2) fails",
          r.returncode == 1 and "29 code lines > 1.6 x 17" in r.stderr, r.stderr)

    with open(os.path.join(lesson, "README.md"), "w") as f:
        f.write("<!-- classic: server.c 17 x1.8 -->\n")
    r = run("--root", tmp, "--check")
    check("a lesson's own limit (1.8 x 17 = 30.6) holds it: 29 passes", r.returncode == 0, r.stderr)
    with open(os.path.join(lesson, "README.md"), "w") as f:
        f.write("<!-- classic: server.c 17 x1.7 -->\n")
    r = run("--root", tmp, "--check")
    check("... and 1.7 x 17 = 28.9 fails it", r.returncode == 1 and "> 1.7 x 17" in r.stderr, r.stderr)

print("test_stats: %s" % ("all passed" if failed == 0 else "%d failed" % failed))
sys.exit(1 if failed else 0)
