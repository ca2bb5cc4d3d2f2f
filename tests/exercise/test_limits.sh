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
#  - a hang is stopped at --timeout and graded TIME, and the child it
#    started is killed with it (its whole process group);
#  - a test program that dies of a signal is reported as broken setup,
#    not as the student's fault;
#  - a test program without the named test is reported as a fault in
#    exercise.conf, not as a pass;
#  - and the same tree with a well-behaved fake passes: the failures above
#    come from the misbehaviour, not from the fake tree.
. "$(dirname "$0")/lib.bash"

tree="$TMP/tree"
mkdir -p "$tree/lessons" "$tree/build/tests/lessons"
cp -r lessons/02-tcp-echo "$tree/lessons/"
ln -s "$BUILD/lib" "$tree/build/lib"
ln -s "$ROOT/lib" "$tree/lib"
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

use_fake 'exec yes "flooding the output"'
run_check
# The bounds on the time below hold the copy's build too, slow on a loaded
# machine; left alone the programs would run for ever (or 600 s).
expect '[ $rc -eq 1 ] && [ $ms -lt 30000 ] && printf "%s" "$out" | grep -q "stopped after 1024 KiB of output"' \
  "a flood is stopped at the 1 MiB limit: exit $rc after $ms ms" "$out"

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

use_fake 'echo "[==========] Running 0 test(s)."; echo "[==========] 0 test(s) run."'
run_check
expect '[ $rc -eq 1 ] && printf "%s" "$out" | tr -s " \n" "  " | grep -q "exercise.conf names test_server_exits_0_on_sigterm_and_sigint, which test_02_tcp_echo does not have"' \
  "a test the program does not have is a fault in exercise.conf, never a pass" "$out"

finish
