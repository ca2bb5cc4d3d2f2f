#!/usr/bin/env bash
# test_new_user.sh — lesson 02 tried the way a new student would.
#
#   socklab exercise 02      the copy, with its comments to fill in
#   socklab check 02         fails step 1, says why, gives the hint and
#                            where the comment is
#   (fill in the comments by copying the solution's lines back)
#   socklab check 02         passes, and names the next exercise
#   socklab progress         02 done, next 03
#
# What it proves besides: a second `exercise 02` refuses to overwrite the
# student's work (the file is unchanged) until --force; the copy lives in
# SOCKLAB_WORK (here a temporary folder; work/ by default), never in
# lessons/; progress counts steps as they pass and names what comes next.
. "$(dirname "$0")/lib.bash"
export SOCKLAB_WORK="$TMP/work"
copy="$SOCKLAB_WORK/02-tcp-echo"
TODO_WORD="TO""DO"
flat() { printf '%s' "$1" | tr -s ' \n' '  '; }
# The lesson folder as it is: every name and its checksum.
snapshot() { (cd lessons/02-tcp-echo && ls -A | sort && md5sum -- *); }
lesson_before=$(snapshot)

out=$("$EX" exercise 02 2>&1); rc=$?
expect '[ $rc -eq 0 ] && [ -f "$copy/server.c" ] && [ -f "$copy/client.c" ]' \
  "socklab exercise 02 writes the copy to \$SOCKLAB_WORK/02-tcp-echo/" "$out"
n=$(grep -c "/\* $TODO_WORD (step [0-9]*): " "$copy/server.c")
expect '[ "$n" -eq 4 ] && printf "%s" "$out" | grep -q "step 1  bind and listen .*server.c:[0-9]"' \
  "the copy has a comment for each of the 4 regions, and the command says where step 1's is" "$out"

echo "/* my work */" >> "$copy/server.c"
sum=$(md5sum < "$copy/server.c")
out=$("$EX" exercise 02 2>&1); rc=$?
expect '[ $rc -eq 1 ] && [ "$(md5sum < "$copy/server.c")" = "$sum" ] && printf "%s" "$out" | grep -q "already exists"' \
  "a second socklab exercise 02 refuses, and the student's file is unchanged" "$out"
out=$("$EX" exercise 02 --force 2>&1); rc=$?
expect '[ $rc -eq 0 ] && ! grep -q "my work" "$copy/server.c"' "with --force it starts again from scratch" "$out"

out=$("$EX" check 02 2>&1); rc=$?
f=$(flat "$out")
expect '[ $rc -eq 1 ] && printf "%s\n" "$out" | grep -Eq "^  step 1  bind and listen .* FAILED"' \
  "check 02 on the fresh copy fails step 1 (exit $rc)" "$out"
expect 'grep -q "does listen_on() bind() and listen() and return the socket?" <<<"$f" && grep -q "Hint (server.c): bind(fd, ai->ai_addr, ai->ai_addrlen), then listen(fd, BACKLOG)" <<<"$f" && grep -Eq "server.c:[0-9]+ \(the step.s $TODO_WORD comment\)" <<<"$f"' \
  "it says why in a student's words, gives the hint and where the step's comment is" "$out"
expect 'printf "%s\n" "$out" | grep -q "step 3  echo until end of file, every byte sent: not checked yet"' \
  "later steps are not checked yet"

out=$("$EX" progress 2>&1)
expect 'printf "%s\n" "$out" | grep -Eq "^  02  .*0 of 3 steps; next: bind and listen" && printf "%s\n" "$out" | grep -q "^Next: socklab exercise 01"' \
  "progress: 02 has 0 of 3 steps, and the first lesson not done (01) is next" "$out"

# Fill in the comments: the solution's lines back in place of each.
restored=$(python3 tests/exercise/markers.py restore lessons/02-tcp-echo/server.c "$copy/server.c" 2>&1)
expect '[ "$restored" = "1 2 3" ] && ! grep -q "$TODO_WORD" "$copy/server.c"' \
  "the student fills in steps 1, 2 and 3 (copying the solution's lines)" "$restored"

out=$("$EX" check 02 2>&1); rc=$?
expect '[ $rc -eq 0 ] && printf "%s\n" "$out" | grep -q "All 3 steps of lesson 02 pass."' \
  "check 02 passes every step (exit $rc)" "$out"
expect 'printf "%s\n" "$out" | grep -q "^Next: socklab exercise 03 .*TCP lifecycle"' \
  "and names the next exercise: socklab exercise 03" "$out"

# What `socklab run 02 --work` needs: the copy built, and where.
bdir=$("$EX" build 02 --print-dir 2>&1); rc=$?
expect '[ $rc -eq 0 ] && [ "$bdir" = "$SOCKLAB_WORK/.build/lessons/02-tcp-echo" ] && [ -x "$bdir/server" ] && "$bdir/client" -h | grep -q "^usage: client"' \
  "build 02 --print-dir builds the copy and prints where its programs are" "$bdir"

out=$("$EX" progress 2>&1)
expect 'printf "%s\n" "$out" | grep -Eq "^  02  .*done \(3 of 3 steps\)" && printf "%s\n" "$out" | grep -Eq "^  03  .*not started" && printf "%s\n" "$out" | grep -q "^Next: socklab exercise 01"' \
  "progress: 02 done, 03 not started; next is the first lesson not done" "$out"

"$EX" exercise 03 >/dev/null
out=$("$EX" progress 2>&1)
expect 'printf "%s\n" "$out" | grep -Eq "^  03  .*started, not checked yet"' "progress sees a copy not yet checked" "$out"

expect '[ "$(snapshot)" = "$lesson_before" ]' "lessons/02-tcp-echo is untouched: every file the same, none added"

finish
