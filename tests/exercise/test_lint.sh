#!/usr/bin/env bash
# test_lint.sh — the exercise markers and exercise.conf files are sound,
# every lesson the issue names has its exercises, and the checker of both
# catches each kind of mistake.
#
# What it proves:
#  - `socklab-exercise lint` passes on the tree, and `list` finds exactly
#    the lessons whose sources carry markers (found here with grep);
#  - lessons 01..04 have exercises: 01 at least one step, 02..04 two to
#    four graded steps;
#  - the word the students' copies use for their tasks appears nowhere in
#    lessons/ or exercise/;
#  - lint rejects, each with its own message: a region never closed, an END
#    of another step, a step with no region, a test the test program does
#    not define, a test without explanation, and the students' word in a
#    lesson source.
. "$(dirname "$0")/lib.bash"
TODO_WORD="TO""DO"

out=$("$EX" lint 2>&1); rc=$?
expect '[ $rc -eq 0 ]' "lint passes on the tree" "$out"

marked=$(grep -l '/\* EXERCISE [0-9]*:' lessons/*/*.[ch] 2>/dev/null | sed 's|lessons/\([0-9][0-9]\)-.*|\1|' | sort -u | tr '\n' ' ')
listed=$(lessons_with_exercises | tr '\n' ' ')
expect '[ "$marked" = "$listed" ]' "list finds the lessons with markers ($listed)" "grep: $marked / list: $listed"

for n in 01 02 03 04; do
  s=$(steps_of $n)
  if [ "$n" = 01 ]; then
    expect '[ "$s" -ge 1 ]' "lesson $n has exercises ($s steps)"
  else
    expect '[ "$s" -ge 2 ] && [ "$s" -le 4 ]' "lesson $n has 2 to 4 graded steps ($s)"
  fi
done

hits=$(grep -rnw "$TODO_WORD" lessons exercise 2>/dev/null)
expect '[ -z "$hits" ]' "no $TODO_WORD in lessons/ or exercise/ (only in generated copies)" "$hits"

# ---- lint catches broken markers and configurations ----------------------
# A private tree: lesson 02 and its test source, each case one breakage.
mk_tree() {
  rm -rf "$TMP/tree"
  mkdir -p "$TMP/tree/lessons" "$TMP/tree/tests/lessons"
  cp -r lessons/02-tcp-echo "$TMP/tree/lessons/"
  cp tests/lessons/test_02_tcp_echo.c "$TMP/tree/tests/lessons/"
}
# lint_says CASE WANT: lint on the private tree fails and says WANT.
lint_says() {
  local out rc
  out=$(SOCKLAB_HOME="$TMP/tree" "$EX" lint 02 2>&1); rc=$?
  if [ $rc -ne 0 ] && printf '%s' "$out" | grep -qF -- "$2"; then
    ok "lint rejects $1: \"$2\""
  else
    fail "lint rejects $1 (exit $rc, wanted \"$2\")" "$out"
  fi
}
S=$TMP/tree/lessons/02-tcp-echo/server.c
C=$TMP/tree/lessons/02-tcp-echo/exercise.conf

mk_tree
out=$(SOCKLAB_HOME="$TMP/tree" "$EX" lint 02 2>&1)
expect '[ $? -eq 0 ]' "lint passes on an unbroken copy of lesson 02" "$out"

mk_tree; sed -i '/END EXERCISE 2 \*\//d' "$S"
lint_says "a region never closed" "EXERCISE 2 is never closed"
mk_tree; sed -i 's|/\* END EXERCISE 2 \*/|/* END EXERCISE 3 */|' "$S"
lint_says "an END of another step" "expected '/* END EXERCISE 2 */'"
mk_tree; sed -i 's|EXERCISE 3:|EXERCISE 4:|; s|END EXERCISE 3 \*/|END EXERCISE 4 */|' "$S"
lint_says "a region of a step exercise.conf lacks" "exercise.conf has no step 4"
mk_tree; sed -i 's#^step = 3 .*#& test_no_such_test#' "$C"
echo "explain.test_no_such_test = never" >> "$C"
lint_says "a test the test program does not define" "test_no_such_test, which test_02_tcp_echo.c does not define"
mk_tree; sed -i '/^explain.test_fifty_clients_in_a_row/d' "$C"
lint_says "a test without explanation" "no explain.test_fifty_clients_in_a_row"
mk_tree; sed -i "s|^static int send_all|/* $TODO_WORD: tidy */\n&|" "$S"
lint_says "the students' word in a lesson" "belongs in the students' copies only"
mk_tree; sed -i 's|\* HINT: bind(fd|* bind(fd|' "$S"
lint_says "a marker without a hint" "STUB before HINT"

finish
