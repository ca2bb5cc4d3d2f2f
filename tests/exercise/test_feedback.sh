#!/usr/bin/env bash
# test_feedback.sh — what a student reads when a step fails, compared with
# golden copies (tests/exercise/golden/*.txt): the words are part of the
# product.
#
# Lesson 02 with a bug planted (tests/exercise/golden/*.bug), checked as
# a student would (socklab check 02, and --chaos for the chaos case); the
# failing step's report, up to its hints, must equal the golden file once
# what differs from run to run is masked (ports, pids, the temporary
# folder and build, and under chaos the byte counts), and line numbers
# too (the lessons change; test_chaos_bugs.sh checks that the line named
# is the right one). The cases:
#   02-flipped-byte   one wrong byte, at offset 99999: the bytes sent and
#                     received around the first difference, escaped, with
#                     their offset; what the server printed; a one-line
#                     command that does the test by hand
#   02-crash          a NULL dereference: the signal named, what the test
#                     saw, the server's output
#   02-one-send       (tests/exercise/bugs/) with --chaos=1: the call and
#                     line, what the fault did, the command for the same
#                     faults again, and the command by hand with the shim
# SOCKLAB_GOLDEN_UPDATE=1 writes the golden files instead (then read the
# diff before committing them).
source "$(dirname "$0")/lib.bash"

GOLDEN=tests/exercise/golden

# report CASE BUG [CHECK-OPTION]: the failing step's report, masked. Under
# chaos what the test saw depends on how the kernel cut the stream, which
# timing decides: only the chaos paragraph and the command by hand are
# kept, their byte counts masked.
report() {
  local name=$1 bug=$2 opt=${3:-} work="$TMP/$1" out
  mkdir -p "$work"
  python3 tests/exercise/plant.py "$bug" lessons/02-tcp-echo "$work/02-tcp-echo" || return 1
  # Run from the work folder's parent, as a student runs from the tree.
  out=$( (cd "$TMP" && SOCKLAB_WORK="$work" "$EX" check 02 $opt 2>&1) |
    sed -n '/ \(FAILED\|CRASHED\|STOPPED (too slow)\)$/,/^      Hint (/p' | sed '$d' |
    sed -e "s|$TMP|<tmp>|g" -e "s|$BUILD|<build>|g" -e "s|$ROOT|<socklab>|g" \
        -e 's/127\.0\.0\.1:[0-9][0-9]*/127.0.0.1:<port>/g' -e 's/(pid [0-9]*)/(pid <pid>)/' \
        -e 's/\.c:[0-9][0-9]*/.c:<line>/g')
  if [ -n "$opt" ]; then
    out=$(printf '%s\n' "$out" | sed -e '/^      what the test saw:/,/^      To try it by hand/{/^      To try it by hand/!d}' |
      tr '\n' '\a' | sed -e 's/[0-9][0-9]*\([ \a]*\)of the\([ \a]*\)[0-9][0-9]*/<n>\1of the\2<m>/g' \
        -e 's/other\([ \a]*\)[0-9][0-9]*/other\1<k>/g' | tr '\a' '\n')
  fi
  printf '%s\n' "$out"
}

for c in 02-flipped-byte:$GOLDEN/02-flipped-byte.bug: 02-crash:$GOLDEN/02-crash.bug: \
         02-one-send:tests/exercise/bugs/02-one-send.bug:--chaos=1; do
  IFS=: read -r name bug opt <<< "$c"
  # In a sanitizer build the sanitizer, not a signal, reports the crash.
  if [ "$name" = 02-crash ] && [ "$SANITIZED" -eq 1 ]; then
    echo "skip: $name (a sanitizer build reports crashes in its own words)"
    continue
  fi
  got=$(report "$name" "$bug" "$opt")
  if [ "${SOCKLAB_GOLDEN_UPDATE:-0}" = 1 ]; then
    printf '%s\n' "$got" > "$GOLDEN/$name.txt"
    echo "wrote $GOLDEN/$name.txt"
    continue
  fi
  # Compared with its words re-flowed: a masked number may wrap a line
  # elsewhere.
  flat() { tr -s ' \n' ' '; }
  expect '[ "$(printf "%s\n" "$got" | flat)" = "$(flat < "$GOLDEN/$name.txt")" ]' \
    "$name: the report is the golden one" "$(diff -u "$GOLDEN/$name.txt" <(printf '%s\n' "$got"))"
done
finish
