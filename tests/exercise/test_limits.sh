#!/usr/bin/env bash
# test_limits.sh — the runner's own limits, against test programs that
# misbehave on purpose.
#
# A real lesson's harness has deadlines of its own and caps what it reads
# from the programs it starts, so a flood or a hang seldom reaches the
# runner. Here a private tree (SOCKLAB_HOME) holds lesson 02 and, in place
# of its test program, a script that floods, hangs (ignoring SIGTERM, with
# a child of its own), crashes, passes, or has no such test. What it proves:
#  - a flood is stopped at the 1 MiB output limit and graded FLOOD, fast;
#    graded with --all it is "output-limit" in JSON, CSV and JUnit;
#  - a hang is stopped at --timeout and graded TIME, and the child it
#    started is killed with it (its whole process group);
#  - a test program that dies of a signal is reported as broken setup,
#    not as the student's fault ("error" in JSON and JUnit, neither a
#    failure nor a crash);
#  - a test program without the named test is reported as a fault in
#    exercise.conf, not as a pass;
#  - --format gradescope writes results.json for a class of one (score,
#    a test per step), and refuses a class of two;
#  - where namespaces are refused (a user namespace whose limit allows no
#    more of them), a class is graded with rlimits alone, and the table
#    and the exports say so;
#  - and the same tree with a well-behaved fake passes: the failures above
#    come from the misbehaviour, not from the fake tree.
. "$(dirname "$0")/lib.bash"

tree="$TMP/tree"
mkdir -p "$tree/lessons" "$tree/build/tests/lessons"
cp -r lessons/02-tcp-echo "$tree/lessons/"
# Copies, not links: the box shows the graded tree and hides the rest of
# /tmp, so links out of the tree into a checkout under /tmp would break.
cp -r "$BUILD/lib" "$tree/build/lib"
cp -r "$ROOT/lib" "$tree/lib"
# socklab-exercise uses the build folder it lives in: a copy of it in the
# fake tree's build/ runs the fake test program.
cp "$EX" "$tree/build/socklab-exercise"
fake="$tree/build/tests/lessons/test_02_tcp_echo"

# use_fake BODY: the test program becomes a shell script running BODY.
use_fake() {
  printf '#!/bin/sh\n%s\n' "$1" >"$fake"
  chmod +x "$fake"
}
# run_check: check the lesson itself against the fake; output in $out.
run_check() {
  local t0
  t0=$(now_ms)
  out=$(SOCKLAB_HOME="$tree" timeout 60 "$tree/build/socklab-exercise" check --solution 02 --timeout 3 2>&1)
  rc=$?
  ms=$(( $(now_ms) - t0 ))
}

use_fake 'echo "[ RUN      ] $SOCKLAB_TEST_FILTER"; echo "[       OK ] $SOCKLAB_TEST_FILTER"'
run_check
expect '[ $rc -eq 0 ] && printf "%s" "$out" | grep -q "All 3 steps of lesson 02 pass"' \
  "a well-behaved fake passes every step (the fake tree works)" "$out"

# run_grade FORMAT: grade a class of one (the lesson's own files) against
# the fake; the export in $out.
mkdir -p "$TMP/class/ann"
cp lessons/02-tcp-echo/*.c "$TMP/class/ann/"
run_grade() {
  out=$(SOCKLAB_HOME="$tree" timeout 60 "$tree/build/socklab-exercise" check --all "$TMP/class" 02 \
    --timeout 3 --format "$1" 2>"$TMP/grade.err")
}
# statuses FORMAT: the three steps' statuses, read back with Python.
statuses() {
  run_grade "$1"
  printf '%s' "$out" | python3 -c '
import csv, json, sys, xml.etree.ElementTree as ET
f, text = sys.argv[1], sys.stdin.read()
if f == "json":
    print(" ".join(st["status"] for st in json.loads(text)["students"][0]["steps"]))
elif f == "csv":
    row = list(csv.DictReader(text.splitlines()))[0]
    print(" ".join(row["step_%d_status" % k] for k in (1, 2, 3)))
else:
    case = ET.fromstring(text).find("testsuite").findall("testcase")
    print(" ".join(c[0].tag + ":" + (c[0].get("type") or "") for c in case))
' "$1"
}

use_fake 'exec yes "flooding the output"'
run_check
# The bounds on the time below hold the copy's build too, slow on a loaded
# machine; left alone the programs would run for ever (or 600 s).
expect '[ $rc -eq 1 ] && [ $ms -lt 30000 ] && printf "%s" "$out" | grep -q "stopped after 1024 KiB of output"' \
  "a flood is stopped at the 1 MiB limit: exit $rc after $ms ms" "$out"
got="$(statuses json)|$(statuses csv)|$(statuses junit)"
expect '[ "$got" = "output-limit output-limit output-limit|output-limit output-limit output-limit|failure:output-limit failure:output-limit failure:output-limit" ]' \
  "graded, a flood is an output-limit in JSON, CSV and JUnit" "$got"$'\n'"$(cat "$TMP/grade.err")"

use_fake 'trap "" TERM INT
sleep 600 &
echo $! > "'"$TMP"'/child.pid"
wait'
run_check
child=$(cat "$TMP/child.pid" 2>/dev/null)
# Alive: it exists and is not a zombie (a killed orphan waits to be reaped).
alive() { [ -r "/proc/$1/stat" ] && ! awk '{ exit $3 != "Z" }' "/proc/$1/stat" 2>/dev/null; }
for _ in $(seq 20); do alive "$child" || break; sleep 0.1; done
expect '[ $rc -eq 1 ] && [ $ms -ge 3000 ] && [ $ms -lt 30000 ] && printf "%s" "$out" | grep -q "stopped after 3 s"' \
  "a hang that ignores SIGTERM is stopped at --timeout 3: exit $rc after $ms ms" "$out"
expect '[ -n "$child" ] && ! alive "$child"' \
  "the hung program's own child (pid ${child:-?}) was killed with it"

use_fake 'kill -SEGV $$'
run_check
expect '[ $rc -eq 1 ] && printf "%s" "$out" | grep -q "did not run properly" && printf "%s" "$out" | grep -q "died of SIGSEGV"' \
  "a test program that dies of SIGSEGV is a broken setup, not the student's fault" "$out"
got="$(statuses json)|$(statuses junit)"
expect '[ "$got" = "error error error|error:error error:error error:error" ]' \
  "graded, a broken setup is an error (not a fail, not a crash) in JSON and JUnit" "$got"

# Where namespaces are refused, grading goes on with rlimits alone, and
# says so. A user namespace that may make no more of them (its limit is 1,
# and it is the one) refuses them as a locked-down system would.
use_fake 'echo "[ RUN      ] $SOCKLAB_TEST_FILTER"; echo "[       OK ] $SOCKLAB_TEST_FILTER"'
if unshare --user --map-root-user true 2>/dev/null && unshare --help 2>&1 | grep -q -- --map-user; then
  refused=$(unshare --user --map-root-user sh -c '
    echo 1 > /proc/sys/user/max_user_namespaces &&
    exec unshare --user --map-user=65534 --map-group=65534 env SOCKLAB_HOME="$1" "$2" check --all "$3" 02 \
      --timeout 3 --format json' sh "$tree" "$tree/build/socklab-exercise" "$TMP/class" 2>"$TMP/refused.table")
  got=$(printf '%s' "$refused" | python3 -c '
import json, sys
s = json.load(sys.stdin)["students"][0]
print(s["points"], s["box"].split(";")[0])' 2>&1)
  expect '[ "$got" = "3 NOT BOXED (namespaces refused: unshare: No space left on device)" ]' \
    "namespaces refused: graded all the same (3 points), with rlimits alone, and marked so" \
    "$got"$'\n'"$(cat "$TMP/refused.table")"
  expect 'grep -q "^Box: NOT BOXED (namespaces refused: .*); rlimits alone: .*CPU 120 s" "$TMP/refused.table"' \
    "namespaces refused: the table says so" "$(cat "$TMP/refused.table")"
else
  echo "skip: no user namespaces here, or unshare has no --map-user"
fi

# Gradescope's results.json, for a class of one.
run_grade gradescope
got=$(printf '%s' "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r["score"], r["max_score"], " ".join(t["status"] for t in r["tests"]),
      sum(t["score"] for t in r["tests"]), sum(t["max_score"] for t in r["tests"]))' 2>&1)
expect '[ "$got" = "3 3 passed passed passed 3 3" ]' \
  "gradescope: results.json has the score and a test per step, the points adding up" "$got"
mkdir -p "$TMP/class/bea"
run_grade gradescope
expect '[ -z "$out" ] && grep -q "gradescope grades one submission" "$TMP/grade.err"' \
  "gradescope: a class of two is refused, saying why" "$(cat "$TMP/grade.err")"
rmdir "$TMP/class/bea"

use_fake 'echo "[==========] Running 0 test(s)."; echo "[==========] 0 test(s) run."'
run_check
expect '[ $rc -eq 1 ] && printf "%s" "$out" | tr -s " \n" "  " | grep -q "exercise.conf names test_server_exits_0_on_sigterm_and_sigint, which test_02_tcp_echo does not have"' \
  "a test the program does not have is a fault in exercise.conf, never a pass" "$out"

finish
