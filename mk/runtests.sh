#!/usr/bin/env bash
# Run every test program given, each under a deadline, and print one
# summary line at the end: "tests: N passed, N failed".
# cmocka programs count their own tests; any other program counts as one
# test, passed when it exits 0. A program of the build ($SOCKLAB_BUILD)
# that the tests started and that still runs when all have ended is named
# and killed. SOCKLAB_TEST_TIMEOUT (seconds, default 300) bounds each
# program. SOCKLAB_TEST_JOBS (default 3) programs run at once:
# most tests wait on sockets and deadlines, not on the CPU. Each program's
# output is shown whole, when it ends. An argument "PROG:ARG" runs PROG
# with the one argument ARG (tests/exercise/test_steps.sh:05: one lesson).
set -u
limit=${SOCKLAB_TEST_TIMEOUT:-300}
jobs=${SOCKLAB_TEST_JOBS:-3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Every process the tests start inherits this mark (tmux servers and
# their windows too): what carries it was started by this run.
export SOCKLAB_TEST_RUN=$dir

# Run test number $1 ($2 is the program); its output and exit code go to
# $dir/$1.log and $dir/$1.rc; one short line says it has ended.
run_one() {
  local n=$1 t=${2%%:*} cmd arg=()
  [ "$t" != "$2" ] && arg=("${2#*:}")
  case $t in
    *.py) cmd=(python3 "$t") ;;
    *.sh) cmd=(bash "$t") ;;
    *) cmd=("$t") ;;
  esac
  cmd+=("${arg[@]}")
  local t0=$SECONDS
  timeout --kill-after=5 "$limit" "${cmd[@]}" > "$dir/$n.log" 2>&1
  local rc=$?
  echo "$rc" > "$dir/$n.rc"
  echo "   finished $2 (exit $rc, $((SECONDS - t0)) s)"
}

tests=("$@")
running=0
for i in "${!tests[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_one "$i" "${tests[i]}" &
  running=$((running + 1))
done
wait

passed=0 failed=0 failed_names=()
for i in "${!tests[@]}"; do
  t=${tests[i]} log=$dir/$i.log
  rc=$(cat "$dir/$i.rc" 2>/dev/null || echo 255)
  echo "== $t"
  cat "$log"
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
done

# Nothing the tests started may outlive them: a program of the build that
# this run started and that still runs now (a test's clean-up missed it)
# is named and killed, so that it does not slow down what runs next. A
# socklab the user runs meanwhile does not carry the mark: it is left be.
build=$(cd "${SOCKLAB_BUILD:-build}" 2>/dev/null && pwd -P)
if [ -n "$build" ]; then
  for exe in /proc/[0-9]*/exe; do
    pid=${exe#/proc/}; pid=${pid%/exe}
    target=$(readlink "$exe" 2>/dev/null) || continue
    case $target in "$build"/*) ;; *) continue ;; esac
    tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qxF "SOCKLAB_TEST_RUN=$dir" || continue
    echo "!! left running after the tests, killed: $pid $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)"
    kill -KILL "$pid" 2>/dev/null
  done
fi

echo
[ ${#failed_names[@]} -gt 0 ] && printf 'failed: %s\n' "${failed_names[@]}"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
