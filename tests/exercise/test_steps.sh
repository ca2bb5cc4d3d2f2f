#!/usr/bin/env bash
# test_steps.sh — both directions, for every lesson that has exercises:
# the generated stub fails its checks, and the solution passes them.
#
# For a lesson of N steps it writes the copies a student meets on the way,
# K = 0..N steps solved (socklab exercise NN --solved K), and proves of each:
#  - it is what the lesson says: markers.py, written apart from the
#    generator, reads every unsolved region as a comment with its task and
#    hint plus its stub, and every solved one as the solution's lines; with
#    K = N the copy is the lesson minus its markers, byte for byte;
#  - it compiles without a warning (gcc, the Makefile's flags);
#  - `socklab check NN` passes steps 1..K and fails step K+1: the step a
#    student is on can be failed, and passed by writing only that step;
#    it exits 1 until K = N, then 0;
# and also that the full stub, checked with --keep-going, fails every step,
# and that `check --solution NN` (the lesson sources) passes every step.
#
# Usage: test_steps.sh [NN...]  (no argument: every lesson with exercises;
# make test runs it once per lesson, side by side)
. "$(dirname "$0")/lib.bash"
export CC=gcc

for n in ${*:-$(lessons_with_exercises)}; do
  nsteps=$(steps_of "$n")
  dir=$(lesson_dir "$n")
  name=$(basename "$dir")
  echo "== lesson $n ($name): $nsteps steps"
  for k in $(seq 0 "$nsteps"); do
    export SOCKLAB_WORK="$TMP/$n-$k"
    out=$("$EX" exercise "$n" --solved "$k" 2>&1)
    expect '[ $? -eq 0 ]' "lesson $n, $k solved: the copy is written" "$out"
    copy="$SOCKLAB_WORK/$name"

    # What the copy holds, read independently of the generator.
    stubbed="" bad=""
    for f in "$dir"/*.c "$dir"/*.h; do
      [ -e "$f" ] || continue
      s=$(python3 tests/exercise/markers.py stubbed "$f" "$copy/$(basename "$f")" 2>&1) || bad="$bad$s"$'\n'
      stubbed="$stubbed $s"
      if [ "$k" -eq "$nsteps" ]; then
        python3 tests/exercise/markers.py strip "$f" | cmp -s - "$copy/$(basename "$f")" ||
          bad="$bad$(basename "$f"): not the lesson minus its markers"$'\n'
      fi
    done
    want=$(seq $((k + 1)) "$nsteps" | tr '\n' ' ')
    got=$(printf '%s\n' $stubbed | grep . | sort -un | tr '\n' ' ')
    expect '[ -z "$bad" ] && [ "$got" = "$want" ]' \
      "lesson $n, $k solved: the copy has comment+stub for steps [ $want] and the solution elsewhere" \
      "$bad stubbed: [ $got]"
    grep -rl 'EXERCISE' "$copy" >/dev/null
    expect '[ $? -ne 0 ]' "lesson $n, $k solved: no marker left in the copy"

    out=$("$EX" build "$n" 2>&1); rc=$?
    expect '[ $rc -eq 0 ] && ! printf "%s" "$out" | grep -q "warning:"' \
      "lesson $n, $k solved: the copy compiles without a warning" "$out"

    out=$("$EX" check "$n" 2>&1); rc=$?
    good=1
    for s in $(seq 1 "$k"); do
      printf '%s\n' "$out" | grep -Eq "^  step $s  .* passed" || good=0
    done
    if [ "$k" -lt "$nsteps" ]; then
      printf '%s\n' "$out" | grep -Eq "^  step $((k + 1))  .* (FAILED|CRASHED|STOPPED)" || good=0
      [ "$rc" -eq 1 ] || good=0
      expect '[ $good -eq 1 ]' "lesson $n, $k solved: check passes steps 1..$k, fails step $((k + 1)), exits 1" "$out"
    else
      printf '%s\n' "$out" | grep -q "All $nsteps steps of lesson $n pass" || good=0
      [ "$rc" -eq 0 ] || good=0
      expect '[ $good -eq 1 ]' "lesson $n, all solved: check passes every step, exits 0" "$out"
    fi
  done

  # The full stub fails every step, not only the first.
  export SOCKLAB_WORK="$TMP/$n-0"
  out=$("$EX" check "$n" --keep-going 2>&1); rc=$?
  failed=$(printf '%s\n' "$out" | grep -Ec "^  step [0-9]+  .* (FAILED|CRASHED|STOPPED)")
  expect '[ $rc -eq 1 ] && [ "$failed" -eq "$nsteps" ]' \
    "lesson $n, the stub with --keep-going: all $nsteps steps fail ($failed)" "$out"

  # The lesson itself passes every step.
  out=$("$EX" check --solution "$n" 2>&1); rc=$?
  passed=$(printf '%s\n' "$out" | grep -Ec "^  step [0-9]+  .* passed")
  expect '[ $rc -eq 0 ] && [ "$passed" -eq "$nsteps" ]' \
    "lesson $n, check --solution: all $nsteps steps pass on the lesson's own sources" "$out"
done

finish
