#!/usr/bin/env bash
# Run every test program given, each under a deadline, and print one
# summary line at the end: "tests: N passed, N failed".
# cmocka programs count their own tests; any other program counts as one
# test, passed when it exits 0. SOCKLAB_TEST_TIMEOUT (seconds, default 300)
# bounds each program.
set -u
limit=${SOCKLAB_TEST_TIMEOUT:-300}
passed=0 failed=0 failed_names=()

for t in "$@"; do
  log=$(mktemp)
  case $t in
    *.py) cmd=(python3 "$t") ;;
    *.sh) cmd=(bash "$t") ;;
    *) cmd=("$t") ;;
  esac
  echo "== $t"
  timeout --kill-after=5 "$limit" "${cmd[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' "$log" | tail -n 1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below.*/\1/p' "$log" | tail -n 1)
  if [ -n "$p" ] || [ -n "$f" ]; then
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    # A crash or a timeout after some tests passed is still a failure.
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
      failed=$((failed + 1)); failed_names+=("$t (exit $rc)")
    elif [ "${f:-0}" -gt 0 ]; then
      failed_names+=("$t")
    fi
  elif [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failed_names+=("$t (exit $rc)")
  fi
  [ "$rc" -eq 124 ] && echo "!! $t timed out after ${limit}s"
  rm -f "$log"
done

echo
[ ${#failed_names[@]} -gt 0 ] && printf 'failed: %s\n' "${failed_names[@]}"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
