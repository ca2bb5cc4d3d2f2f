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
#    not define, a test without explanation, the students' word in a
#    lesson source or in exercise.stubs, a marker in the old inline form
#    (its hint and stub in the comment), a marker that goes on past its
#    line, and on the exercise.stubs side: a region without an entry, an
#    entry without a region, a task reworded on one side only, two entries
#    for one region, two regions of one file and step with the same task,
#    an entry without a hint, a stub line indented with spaces instead of
#    its tab, and a lesson with markers but no exercise.stubs;
#  - entries are found by file, step and task, not by their order: with
#    the entries of exercise.stubs in reverse order, lint passes and the
#    student's copy is byte for byte the same;
#  - a blank line between two lines of a stub is an empty line of it, in
#    the copy as markers.py (which reads exercise.stubs on its own) expects.
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
T=$TMP/tree/lessons/02-tcp-echo/exercise.stubs

mk_tree
out=$(SOCKLAB_HOME="$TMP/tree" "$EX" lint 02 2>&1)
expect '[ $? -eq 0 ]' "lint passes on an unbroken copy of lesson 02" "$out"

# The file's last END marker: nothing after it can close the region.
mk_tree; sed -i "$(grep -n 'END EXERCISE' "$S" | tail -n 1 | cut -d: -f1)d" "$S"
lint_says "a region never closed" "is never closed"
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
mk_tree; sed -i "s|^\tbind(fd, ai->ai_addr|\t$TODO_WORD: &|" "$T"
lint_says "the students' word in exercise.stubs" "exercise.stubs: '$TODO_WORD' belongs in the students' copies only"

# ---- the two sides: markers in the sources, entries in exercise.stubs ----
TASK1='bind the socket to the address, then make it listen'
mk_tree; sed -i "s|^\(\t/\* EXERCISE 1: .*\) \*/\$|\1\n\t * HINT: bind(fd, ...), then listen(fd, BACKLOG)\n\t * STUB: return -1; */|" "$S"
lint_says "a marker in the old inline form" "hints and stubs now live in exercise.stubs"
mk_tree; sed -i "s|^\(\t/\* EXERCISE 1: .*\) \*/\$|\1\n\t * and go on */|" "$S"
lint_says "a marker whose comment goes on past its line" "a marker is one line, '/* EXERCISE N: task */'"
mk_tree; sed -i "/^server.c: EXERCISE 1: /,/^\$/d" "$T"
line=$(grep -n "EXERCISE 1: $TASK1" "$S" | cut -d: -f1)
lint_says "a region without an entry" "server.c:$line: EXERCISE 1 has no entry in exercise.stubs: add one starting 'server.c: EXERCISE 1: $TASK1'"
mk_tree; printf '\nserver.c: EXERCISE 2: a task no marker has\nhint:\n\tanything\n' >> "$T"
line=$(grep -n "a task no marker has" "$T" | cut -d: -f1)
lint_says "an entry without a region" "exercise.stubs:$line: 'server.c: EXERCISE 2: a task no marker has' matches no region"
mk_tree; sed -i "s|EXERCISE 1: $TASK1|EXERCISE 1: bind, then listen|" "$S"
lint_says "a task reworded in the source only" "was a task reworded on one side?"
mk_tree; sed -n "/^server.c: EXERCISE 1: /,/^\$/p" "$T" > "$TMP/entry"; cat "$TMP/entry" >> "$T"
lint_says "two entries for one region" "a second entry for server.c's EXERCISE 1 '$TASK1' (the first is at line"
mk_tree; sed -i 's|EXERCISE 3: echo until the client closes its side: recv() until 0|EXERCISE 3: send every byte, however few each send() takes|' "$S"
lint_says "two regions of one file and step with the same task" "has the same task as line"
mk_tree; sed -i "/^server.c: EXERCISE 1: /,/^\$/{/^server.c/!{/^\$/!d}}" "$T"
lint_says "an entry without a hint" "the entry has no hint"
mk_tree; sed -i 's|^\tclose(fd);$|        close(fd);|' "$T"
lint_says "a stub line indented with spaces" "a line starting with spaces"
mk_tree; rm "$T"
lint_says "a lesson with markers but no exercise.stubs" "has exercise markers but no exercise.stubs"

# Entries are matched by file, step and task: their order does not matter.
mk_tree
SOCKLAB_HOME="$TMP/tree" SOCKLAB_WORK="$TMP/work-a" "$EX" exercise 02 >/dev/null 2>&1
python3 - "$T" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
# The header, then the entries, each from its first line to the next one's.
parts = re.split(r"\n(?=\S+: EXERCISE \d+: )", text)
entries = [p.rstrip("\n") + "\n" for p in parts[1:]]
open(sys.argv[1], "w").write(parts[0] + "\n" + "\n".join(reversed(entries)))
PY
first=$(grep -m1 '^[^#].*: EXERCISE ' "$T")
out=$(SOCKLAB_HOME="$TMP/tree" "$EX" lint 02 2>&1); rc=$?
SOCKLAB_HOME="$TMP/tree" SOCKLAB_WORK="$TMP/work-b" "$EX" exercise 02 >/dev/null 2>&1
expect '[ $rc -eq 0 ] && [ "$first" = "server.c: EXERCISE 2: accept clients one after another and serve each one" ] &&
  diff -r "$TMP/work-a" "$TMP/work-b" >/dev/null && [ -s "$TMP/work-a/02-tcp-echo/server.c" ]' \
  "entries in reverse order: lint passes, the copy is byte for byte the same" "$out / first entry: $first"

# A blank line inside a stub is part of it; blank lines after it are not.
mk_tree
sed -i '/^server.c: EXERCISE 2: /,/^$/{s|^\t(void)serve_client;$|&\n|}' "$T"
out=$(SOCKLAB_HOME="$TMP/tree" "$EX" lint 02 2>&1); rc=$?
SOCKLAB_HOME="$TMP/tree" SOCKLAB_WORK="$TMP/work-c" "$EX" exercise 02 >/dev/null 2>&1
copy=$TMP/work-c/02-tcp-echo/server.c
steps=$(python3 tests/exercise/markers.py stubbed "$S" "$copy" 2>&1)
gap=$(grep -A1 '^	(void)serve_client;$' "$copy" | tail -n 1)
expect '[ $rc -eq 0 ] && [ "$steps" = "1 2 3" ] && [ -z "$gap" ] && grep -q "^	while (!stop_requested)$" "$copy"' \
  "a blank line inside a stub is an empty line of the copy" "$out / markers.py: $steps / after the line: [$gap]"

finish
