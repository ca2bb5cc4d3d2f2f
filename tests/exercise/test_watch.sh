#!/usr/bin/env bash
# test_watch.sh — `socklab check NN --watch` checks again on every save.
#
# What it proves, with lesson 01 and a watcher running in the background:
#  - it checks once at the start (the fresh copy fails step 1);
#  - a save in place (write and close) is seen: the check runs again and
#    now passes step 1;
#  - a change to a file that is not a source (notes.txt) starts no check;
#  - an editor's save (write a new file, rename it over the old one) is
#    seen too: the check runs again and passes every step;
#  - and back: putting the stub back makes it fail again;
#  - each result comes within a deadline of the save;
#  - SIGTERM stops the watcher: exit 0, "Stopped watching.", and nothing
#    it started is left running.
. "$(dirname "$0")/lib.bash"
DEADLINE=60  # seconds for one check to come back, on a loaded machine

export SOCKLAB_WORK="$TMP/work"
SOCKLAB_WORK="$TMP/ref1" "$EX" exercise 01 --solved 1 >/dev/null || { echo "FAIL: exercise"; exit 1; }
SOCKLAB_WORK="$TMP/ref2" "$EX" exercise 01 --solved 2 >/dev/null || { echo "FAIL: exercise"; exit 1; }
"$EX" exercise 01 >/dev/null || { echo "FAIL: exercise"; exit 1; }
copy="$SOCKLAB_WORK/01-addresses"
cp "$copy/showaddr.c" "$TMP/stub.c"
log="$TMP/watch.log"

"$EX" check 01 --watch >"$log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$TMP"
}

# wait_for PATTERN COUNT: until PATTERN is on COUNT lines of the log.
wait_for() {
  local end=$(( $(date +%s) + DEADLINE ))
  while [ "$(grep -c -- "$1" "$log")" -lt "$2" ]; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$(date +%s)" -ge "$end" ]; then
      return 1
    fi
    sleep 0.1
  done
}
changes() { grep -c "changed: checking again" "$log"; }

wait_for "^Watching " 1
expect 'grep -q "0 of 2 steps pass" "$log"' "the watcher checks at once: the fresh copy fails step 1" "$(cat "$log")"

t0=$(now_ms)
cp "$TMP/ref1/01-addresses/showaddr.c" "$copy/showaddr.c"
wait_for "1 of 2 steps pass" 1
expect '[ $? -eq 0 ] && [ "$(changes)" -eq 1 ]' \
  "a save in place is seen: checked again, step 1 now passes ($(( $(now_ms) - t0 )) ms)" "$(cat "$log")"
wait_for "^Watching " 2

echo "remember: step 2 is about the list" > "$copy/notes.txt"
sleep 2
expect '[ "$(changes)" -eq 1 ]' "a file that is not a source starts no check" "$(cat "$log")"

t0=$(now_ms)
cp "$TMP/ref2/01-addresses/showaddr.c" "$copy/.showaddr.c.swp"
mv "$copy/.showaddr.c.swp" "$copy/showaddr.c"
wait_for "All 2 steps of lesson 01 pass" 1
expect '[ $? -eq 0 ] && [ "$(changes)" -eq 2 ]' \
  "an editor's save (new file renamed over the old) is seen: every step passes ($(( $(now_ms) - t0 )) ms)" \
  "$(cat "$log")"
wait_for "^Watching " 3

cp "$TMP/stub.c" "$copy/.stub"
mv "$copy/.stub" "$copy/showaddr.c"
wait_for "0 of 2 steps pass" 2
expect '[ $? -eq 0 ] && [ "$(changes)" -eq 3 ]' "putting the stub back fails step 1 again" "$(cat "$log")"
wait_for "^Watching " 4

kill -TERM "$pid"
end=$(( $(date +%s) + 10 ))
while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
wait "$pid"; rc=$?
expect '[ $rc -eq 0 ] && grep -q "Stopped watching." "$log"' "SIGTERM stops the watcher: exit $rc" "$(tail -n 5 "$log")"
left=$(pgrep -af "$TMP" | grep -v "pgrep")
expect '[ -z "$left" ]' "nothing the watcher started is still running" "$left"

# Interrupted in the middle of a test: lesson 03's stub leaves its client
# and server waiting for each other (no shutdown), so the check is busy for
# seconds; SIGTERM must end it at once and stop those programs too.
export SOCKLAB_WORK="$TMP/work3"
"$EX" exercise 03 >/dev/null
"$EX" check 03 >"$TMP/check3.log" 2>&1 &
pid=$!
end=$(( $(date +%s) + DEADLINE ))
until pgrep -f "$SOCKLAB_WORK/.build/lessons/03-tcp-lifecycle/client" >/dev/null; do
  [ "$(date +%s)" -lt "$end" ] || break
  sleep 0.1
done
expect 'pgrep -f "$SOCKLAB_WORK/.build/lessons/" >/dev/null' "a check of lesson 03's stub has the copy's programs running"
t0=$(now_ms)
kill -TERM "$pid"
wait "$pid"; rc=$?
ms=$(( $(now_ms) - t0 ))
left=$(pgrep -af "$SOCKLAB_WORK" | grep -v pgrep)
expect '[ $rc -eq 130 ] && [ $ms -lt 3000 ] && [ -z "$left" ]' \
  "SIGTERM ends a running check: exit $rc after $ms ms, the copy's programs stopped" \
  "$(cat "$TMP/check3.log")
left: $left"

finish
