#!/usr/bin/env bash
# chaos_soak.sh — the long run behind `make chaos-soak` (nightly, not
# make test): every lesson whose exercise.conf names chaos steps, its own
# solution checked with --chaos=1 .. --chaos=RUNS, must pass every time;
# then every planted bug (tests/exercise/bugs/) must pass the plain check
# and fail the chaos check, named (test_chaos_bugs.sh).
#
# Usage: chaos_soak.sh [RUNS] [NN...]   (RUNS defaults to 100; JOBS=2
# lessons are checked side by side). Prints one line per lesson with its
# time, the failing seeds' reports, and "soak: N runs, N failed".
source "$(dirname "$0")/lib.bash"

RUNS=${1:-100}
shift || true
JOBS=${JOBS:-2}
if [ $# -gt 0 ]; then
  lessons=("$@")
else
  mapfile -t lessons < <(grep -l '^chaos *=' lessons/*/exercise.conf | sed 's|lessons/\([0-9]*\)-.*|\1|')
fi

# soak NN: RUNS seeded checks of the solution; a line per failure and a
# summary line "NN: R runs, F failed, S s".
soak() {
  local n=$1 seed failed=0 t0=$SECONDS out
  for seed in $(seq 1 "$RUNS"); do
    if ! out=$("$EX" check --solution "$n" --chaos="$seed" 2>&1); then
      failed=$((failed + 1))
      printf 'FAILED: lesson %s, --chaos=%s:\n%s\n' "$n" "$seed" "$out" | sed 's/^/    | /'
    fi
  done
  echo "lesson $n: $RUNS runs, $failed failed, $((SECONDS - t0)) s"
}

running=0
for n in "${lessons[@]}"; do
  if [ "$running" -ge "$JOBS" ]; then
    wait -n
    running=$((running - 1))
  fi
  soak "$n" > "$TMP/soak.$n" &
  running=$((running + 1))
done
wait
total=0 bad=0
for n in "${lessons[@]}"; do
  cat "$TMP/soak.$n"
  r=$(sed -n 's/^lesson .*: \([0-9]*\) runs, \([0-9]*\) failed.*/\1 \2/p' "$TMP/soak.$n")
  total=$((total + ${r% *}))
  bad=$((bad + ${r#* }))
  expect "[ ${r#* } -eq 0 ]" "lesson $n: its solution passes $RUNS chaos checks"
done
echo "soak: $total runs, $bad failed"

bash tests/exercise/test_chaos_bugs.sh tests/exercise/bugs/*.bug
bugs_rc=$?
expect "[ $bugs_rc -eq 0 ]" "every planted bug passes the plain check and fails the chaos check, named"
finish
