#!/usr/bin/env python3
"""formats.py — read back what `socklab check --all ... --save DIR` wrote
for test_grade.sh's class, with Python's own json, csv and XML readers,
and check that the formats agree and keep the statuses apart (the
output-limit and error statuses, which need a test program that floods or
dies, are test_limits.sh's).

Usage: formats.py DIR SANITIZED   (SANITIZED 1: a sanitizer build, where
a crash is reported by the sanitizer and has no signal to name)
Prints "ok", or one line per problem.
"""
import csv
import json
import sys
import xml.etree.ElementTree as ET


def main():
    out, sanitized = sys.argv[1], sys.argv[2] == "1"
    bad = []
    j = json.load(open(out + "/results.json"))
    steps = {s["name"]: s["steps"] for s in j["students"]}
    points = {s["name"]: s["points"] for s in j["students"]}

    # JSON: the points add up, the statuses are the right ones.
    for s in j["students"]:
        if sum(st["points"] for st in s["steps"]) != s["points"]:
            bad.append("json: %s's step points do not add up to %d" % (s["name"], s["points"]))
        if sum(st["max_points"] for st in s["steps"]) != j["max_points"]:
            bad.append("json: %s's max_points do not add up" % s["name"])
    want = {("alice", 0): "pass", ("alice", 2): "pass", ("carol", 0): "timeout",
            ("dave", 0): "pass", ("dave", 1): "crash", ("frank", 0): "build-error",
            ("mallory", 2): "pass"}
    for (name, k), status in want.items():
        if steps[name][k]["status"] != status and not (sanitized and name in ("dave", "mallory")):
            bad.append("json: %s step %d is %s, not %s" % (name, k + 1, steps[name][k]["status"], status))
    if not sanitized and steps["dave"][1]["signal"] != "SIGSEGV":
        bad.append("json: dave's crash names no SIGSEGV: %r" % steps["dave"][1]["signal"])
    if any(st["status"] not in ("timeout", "fail") for st in steps["gina"]):
        bad.append("json: gina's flood: %r" % [st["status"] for st in steps["gina"]])
    if points["alice"] != 3 or points["bob"] != 0 or points["frank"] != 0:
        bad.append("json: points %r" % points)

    # CSV: the same students, points and statuses.
    rows = list(csv.DictReader(open(out + "/results.csv", newline="")))
    if [r["student"] for r in rows] != [s["name"] for s in j["students"]]:
        bad.append("csv: the students differ from json's")
    for r in rows:
        total = sum(int(r["step_%d_points" % k]) for k in (1, 2, 3))
        if total != int(r["points"]) or int(r["points"]) != points[r["student"]]:
            bad.append("csv: %s has %s points, its steps add to %d" % (r["student"], r["points"], total))
        for k in (1, 2, 3):
            if r["step_%d_status" % k].split(" ")[0] != steps[r["student"]][k - 1]["status"]:
                bad.append("csv: %s step %d: %s" % (r["student"], k, r["step_%d_status" % k]))
    carol = next(r for r in rows if r["student"] == "carol")
    dave = next(r for r in rows if r["student"] == "dave")
    if carol["step_1_status"] != "timeout" or (not sanitized and dave["step_2_status"] != "crash SIGSEGV"):
        bad.append("csv: timeout and crash not told apart: %r, %r"
                   % (carol["step_1_status"], dave["step_2_status"]))

    # JUnit: a suite per student, the same kinds of failure.
    root = ET.parse(out + "/junit.xml").getroot()
    suites = {t.get("name"): t.findall("testcase") for t in root.findall("testsuite")}
    if int(root.get("tests")) != 3 * len(suites) or set(suites) != set(steps):
        bad.append("junit: %s tests in %d suites" % (root.get("tests"), len(suites)))
    timeout = suites["carol"][0].find("failure")
    build = suites["frank"][0].find("error")
    crash = suites["dave"][1].find("failure")
    if timeout is None or timeout.get("type") != "timeout":
        bad.append("junit: carol's timeout")
    if build is None or build.get("type") != "build-error":
        bad.append("junit: frank's build error")
    if not sanitized and (crash is None or crash.get("type") != "crash SIGSEGV"):
        bad.append("junit: dave's crash")
    if suites["alice"][0].find("failure") is not None:
        bad.append("junit: alice failed")

    # TAP: the status in each diagnostic.
    tap = open(out + "/results.tap").read()
    for word in ("# timeout: ", "# build-error: ", "# fail: "):
        if word not in tap:
            bad.append("tap: no %r" % word)
    print("\n".join(bad) if bad else "ok")


if __name__ == "__main__":
    main()
