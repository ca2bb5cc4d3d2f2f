# lib.bash — shared by tests/exercise/test_*.sh (sourced, never run alone).
#
# Every test works in a temporary folder (SOCKLAB_WORK points there), so a
# student's real work/ is never touched, and removes it at the end.

set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
BUILD=${SOCKLAB_BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
EX="$BUILD/socklab-exercise"
# A sanitizer build (make SANITIZE=...): the library is instrumented, so a
# copy must be built with the same flags (CFLAGS/LDFLAGS, as make passes
# them), and a crash may be reported by the sanitizer instead of a signal.
SANITIZED=0
if nm "$BUILD/lib/libsocklab.a" 2>/dev/null | grep -q '__asan\|__ubsan\|__tsan'; then SANITIZED=1; fi
unset SOCKLAB_WORK SOCKLAB_VALGRIND
# The tree under test, wherever the build folder is (make B=/elsewhere).
export SOCKLAB_HOME="$ROOT"

if [ ! -x "$EX" ]; then
  echo "FAIL: $EX is missing: build it (make; rule exercise/*.c -> $BUILD/socklab-exercise)"
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/socklab-extest.XXXXXX") || exit 1
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT

failures=0
checks=0

# ok WHAT: one check passed.
ok() { checks=$((checks + 1)); echo "ok: $*"; }
# fail WHAT [OUTPUT]: one check failed; the output it was about is shown.
fail() {
  checks=$((checks + 1)); failures=$((failures + 1))
  echo "FAIL: $1"
  if [ $# -gt 1 ]; then printf '%s\n' "$2" | sed 's/^/    | /' | head -n 60; fi
}
# expect COND WHAT [OUTPUT]: ok if the shell condition COND holds.
expect() {
  if eval "$1"; then ok "$2"; else fail "$2" "${3:-}"; fi
}
# finish: the summary line and the exit status for mk/runtests.sh.
finish() {
  echo "$checks checks, $failures failed"
  [ "$failures" -eq 0 ]
}

now_ms() { date +%s%3N; }

# The lessons that have exercises: "01 02 03 04" (socklab-exercise list).
lessons_with_exercises() {
  "$EX" list | sed -n 's/^\([0-9][0-9]\)  .*/\1/p'
}

# Number of steps of lesson NN.
steps_of() {
  "$EX" list | awk -v n="$1" '/^[0-9][0-9]  / { cur = $1 } /^    step / && cur == n { c++ } END { print c + 0 }'
}

# The lesson folder of NN: lessons/02-tcp-echo.
lesson_dir() {
  local d
  for d in lessons/"$1"-*/; do echo "${d%/}"; return; done
}
