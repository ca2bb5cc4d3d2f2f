#!/usr/bin/env bash
# test_chaos_bugs.sh — the bugs students really make, planted in lesson
# solutions (tests/exercise/bugs/*.bug, see plant.py): each passes the
# plain check and fails `socklab check NN --chaos`, which names the call
# and the source line where the fault landed.
#
# For each bug file it proves:
#  - the solution with the bug planted passes every step of the plain
#    check (exit 0): on loopback the bug never shows;
#  - `check NN --chaos=SEED` exits 1, and its message names the fault the
#    bug does not survive ("took 3 of the 12 bytes offered", "failed with
#    EAGAIN", ...), the call (send(), recv(), accept4(), an io_uring
#    recv) and FILE:LINE, a line of the function the bug replaced, and
#    says how to make the same faults again (--chaos=SEED);
#  - for the first bug: the same seed gives the same message, but for the
#    byte counts (the faults come from the seed and the order of the calls;
#    how many bytes a call had to cut depends on how the kernel handed
#    them over, which timing decides).
#
# Usage: test_chaos_bugs.sh [BUG...]  (no argument: one bug of each kind
# of fault, the quick set make test runs; `make chaos-soak` runs them all)
source "$(dirname "$0")/lib.bash"

SEED=1
if [ $# -gt 0 ]; then
  bugs=("$@")
else
  bugs=(tests/exercise/bugs/02-one-send.bug tests/exercise/bugs/08-eagain-is-an-error.bug
        tests/exercise/bugs/10-abort-is-fatal.bug tests/exercise/bugs/12-one-recv-is-the-echo.bug)
fi

# The words each fault's message uses.
words_for() {
  case $1 in
    short-read) echo "treated it as a whole message" ;;
    short-write) echo "never sent the other" ;;
    eagain) echo "failed with EAGAIN" ;;
    eintr) echo "failed with EINTR" ;;
    abort) echo "failed with ECONNABORTED" ;;
  esac
}

first=1
for bug in "${bugs[@]}"; do
  name=$(basename "$bug" .bug)
  n=$(python3 tests/exercise/plant.py --show "$bug" lesson)
  file=$(python3 tests/exercise/plant.py --show "$bug" file)
  func=$(python3 tests/exercise/plant.py --show "$bug" function)
  read -r fault call <<< "$(python3 tests/exercise/plant.py --show "$bug" chaos)"
  dir=$(lesson_dir "$n")
  work="$TMP/$name"
  mkdir -p "$work"
  python3 tests/exercise/plant.py "$bug" "$dir" "$work/$(basename "$dir")" ||
    { fail "$name: plant.py failed"; continue; }
  # The lines of the planted file that the bug's function spans.
  span=$(python3 - "$work/$(basename "$dir")/$file" "$func" <<'EOF'
import sys
sys.path.insert(0, "tests/exercise")
import plant
src = open(sys.argv[1]).read()
start, end = plant.function_body(src, sys.argv[2])
print(src.count("\n", 0, start) + 1, src.count("\n", 0, end) + 1)
EOF
)
  read -r lo hi <<< "$span"

  t0=$(now_ms)
  plain=$(SOCKLAB_WORK="$work" "$EX" check "$n" 2>&1)
  rc=$?
  expect '[ $rc -eq 0 ]' "$name: passes the plain check (exit $rc, $(( $(now_ms) - t0 )) ms)" "$plain"

  t0=$(now_ms)
  out=$(SOCKLAB_WORK="$work" "$EX" check "$n" --chaos=$SEED 2>&1)
  rc=$?
  ms=$(( $(now_ms) - t0 ))
  # The message, joined back into one line.
  msg=$(printf '%s\n' "$out" | sed -n '/with faults made on purpose (chaos, seed/,/The same faults again/p' | tr '\n' ' ' | tr -s ' ')
  if [ "${call#io_uring-}" != "$call" ]; then
    at=$(printf '%s' "$msg" | sed -n "s/.*a ${call#io_uring-} handed to io_uring at \([^ ]*\) .*/\1/p")
  else
    at=$(printf '%s' "$msg" | sed -n "s/.*[ :] ${call}() at \([^ ]*\) .*/\1/p")
  fi
  line=${at##*:}
  expect '[ $rc -eq 1 ]' "$name: fails the chaos check (exit $rc, $ms ms)" "$out"
  expect '[ -n "$at" ] && [ "${at%%:*}" = "$file" ] && [ "$line" -ge "$lo" ] && [ "$line" -le "$hi" ]' \
    "$name: names $call at $file:$line, in $func() (lines $lo-$hi)" "$msg"
  expect 'printf "%s" "$msg" | grep -q -- "$(words_for "$fault")"' \
    "$name: says what the $fault fault did and what to do" "$msg"
  expect 'printf "%s" "$msg" | grep -q "The same faults again: socklab check $n --chaos=$SEED"' \
    "$name: says how to make the same faults again" "$msg"
  if [ $first -eq 1 ]; then
    again=$(SOCKLAB_WORK="$work" "$EX" check "$n" --chaos=$SEED 2>&1 |
      sed -n '/with faults made on purpose (chaos, seed/,/The same faults again/p' | tr '\n' ' ' | tr -s ' ')
    masked=$(printf '%s' "$msg" | sed 's/[0-9][0-9]* of the [0-9][0-9]*/N of the M/g; s/other [0-9][0-9]*/other K/g')
    again=$(printf '%s' "$again" | sed 's/[0-9][0-9]* of the [0-9][0-9]*/N of the M/g; s/other [0-9][0-9]*/other K/g')
    expect '[ "$again" = "$masked" ]' "$name: the same seed, the same faults: the same message again (byte counts aside)" \
      "first:  $masked"$'\n'"again:  $again"
    first=0
  fi
done

# Which program to blame starts from those that ended with an error of
# their own. A teardown's SIGKILL is not one: lesson 12's correct server,
# killed by the teardown after the planted client failed, was counted as a
# failed program, and when its own cut alone also failed the test (under
# load, the echo came in two pieces) it was named instead of the client.
# The harness notes the kills it sends itself, and the checker skips them.
work="$TMP/12-one-recv-is-the-echo"
if [ -x "$work/.build/lessons/12-io-uring/client" ]; then
  fb="$TMP/feedback-12"
  mkdir -p "$fb"
  SOCKLAB_BUILD="$work/.build" SOCKLAB_FEEDBACK="$fb" SOCKLAB_CHAOS=$SEED \
    SOCKLAB_CHAOS_SHIM="$BUILD/lib/libsltrace.so" SOCKLAB_CHAOS_PROGS="server client" \
    SOCKLAB_CHAOS_FAULTS=short-read SOCKLAB_CHAOS_LOG="$fb/chaoslog" \
    "$BUILD/tests/lessons/test_12_io_uring" test_client_links_connect_send_shutdown >/dev/null 2>&1
  srv=$(sed -n 's/^start \([0-9]*\) 1 .*12-io-uring\/server .*/\1/p' "$fb/notes" | head -1)
  cl=$(sed -n 's/^start \([0-9]*\) 1 .*12-io-uring\/client .*/\1/p' "$fb/notes" | head -1)
  expect 'grep -qx "end $srv 137 killed" "$fb/notes"' \
    "the server the teardown killed is noted as the harness's kill" "$(cat "$fb/notes")"
  expect 'grep -qx "end $cl [1-9][0-9]*" "$fb/notes"' \
    "the planted client's own error exit is noted as it was" "$(cat "$fb/notes")"
fi
finish
