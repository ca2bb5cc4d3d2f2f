#!/usr/bin/env bash
# test_not_checked.sh — a step whose tests all skip themselves is "NOT
# CHECKED", never passed: lesson 16's tests need root (raw and packet
# sockets), so its own solution, checked as an ordinary user (uid 65534),
# must pass no step and exit 1.
. "$(dirname "$0")/lib.bash"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
  echo "skipped: needs root and setpriv to check as an ordinary user"
  finish
  exit 0
fi
if ! setpriv --reuid=65534 --regid=65534 --clear-groups \
     test -x "$EX" -a -r "$ROOT/lessons/16-raw/ping.c"; then
  echo "skipped: uid 65534 cannot reach $ROOT (a folder on the way is closed to others)"
  finish
  exit 0
fi
chmod 755 "$TMP"
mkdir -m 777 "$TMP/nobody"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
        env SOCKLAB_WORK="$TMP/nobody/work" "$EX" check --solution 16 --keep-going 2>&1)
rc=$?
steps=$(steps_of 16)
unchecked=$(printf '%s\n' "$out" | grep -Ec '^  step [0-9]+  .* NOT CHECKED$')
expect '[ $rc -eq 1 ] && [ "$unchecked" -eq "$steps" ] && [ "$steps" -gt 0 ]' \
  "as uid 65534, lesson 16's solution: all $steps steps NOT CHECKED, exit 1" "$out"
expect 'printf "%s\n" "$out" | grep -q "^0 of $steps steps pass"' \
  "as uid 65534: no step counts as passed" "$out"
expect 'printf "%s\n" "$out" | grep -q "skipped: a raw socket needs root here"' \
  "as uid 65534: the test's own reason is shown" "$out"
finish
