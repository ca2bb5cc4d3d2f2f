#!/usr/bin/env bash
# test_grade.sh — `socklab check --all DIR 02` grades a class, each
# student in a box, and writes the results in every format.
#
# The class (lesson 02, three steps), one folder per student:
#   alice    correct: the whole solution
#   bob      incomplete: the copy as generated, nothing written
#   carol    hangs: a server that never calls accept() and ignores SIGTERM
#   dave     crashes: a NULL dereference as soon as a client is served
#   erin     correct, but handed in server.c alone, not in a 02-tcp-echo/
#            folder (client.c comes from the lesson)
#   frank    does not compile
#   gina     floods: prints for ever once it listens, and ignores SIGTERM
#   mallory  hostile (tests/exercise/hostile.c, first thing in main()):
#            appends "#error" to alice's server.c, writes into the class
#            folder and /tmp, reads alice's folder, connects to a port this
#            test listens on (outside the box) and sends to it, forks 200
#            times with setsid(), writes a 1 GiB file; otherwise a correct
#            server, which aborts at once if an attack works
# What it proves, of one run with -j 2 (two students at a time):
#  - each is graded as it should be: alice and erin pass every step; bob
#    fails; carol is stopped by the deadline (TIME); dave passes step 1 and
#    then crashes with SIGSEGV, which the notes name; frank does not build
#    and the note quotes the compiler's error; gina passes no step; mallory
#    passes every step (no attack worked);
#  - the box held: every other folder is byte for byte as before
#    (sha256sum of each file), nothing appeared in the class folder or in
#    /tmp, the test's listener saw no connection, none of mallory's
#    processes is left, and the table says how the code was boxed;
#  - the others' results are the same as when they are graded without
#    mallory (alice, bob, dave, erin and frank, graded again as a class of
#    their own; carol and gina only wait for the deadline);
#  - the hanging and flooding students are cut off by the per-test deadline
#    (--timeout 10): each takes at most steps x (deadline + slack), and the
#    whole run ends well within its own deadline;
#  - stdout is valid TAP: version, plan 1..24, 24 points numbered in
#    order, 10 ok, 14 not ok each with a diagnostic line; and Perl's prove
#    (a TAP parser no one here wrote) reads it without a parse error;
#  - --save wrote every format: junit.xml validates with xmllint against
#    tests/exercise/junit.xsd; formats.py reads results.json, results.csv
#    and junit.xml back with Python's own readers: points add up, and
#    timeout, crash (SIGSEGV) and build error are told apart in each
#    (test_limits.sh does the same for output-limit and error);
#  - nothing a student's program started is left running.
. "$(dirname "$0")/lib.bash"
# Per test, as an instructor would pass it: a correct student's 1 MiB
# round trip, in its box, two students at a time, beside make test's other
# programs, must fit with room to spare (5 s did not, once).
TIMEOUT=10
RUN_DEADLINE=240
class="$TMP/class"

make_copy() {  # make_copy STUDENT SOLVED
  SOCKLAB_WORK="$class/$1" "$EX" exercise 02 --solved "$2" >/dev/null || { echo "FAIL: exercise"; exit 1; }
}
make_copy alice 3
make_copy bob 0
make_copy carol 3
make_copy dave 3
make_copy frank 3
make_copy gina 3
make_copy mallory 3
mkdir -p "$class/erin"
python3 tests/exercise/markers.py strip lessons/02-tcp-echo/server.c > "$class/erin/server.c"

# edit STUDENT PYTHON: change the student's server.c with a Python snippet
# working on s (the text).
edit() {
  python3 - "$class/$1/02-tcp-echo/server.c" "$2" <<'EOF'
import sys
path, code = sys.argv[1], sys.argv[2]
s = open(path).read()
exec(code)
open(path, "w").write(s)
EOF
}
# carol: serve_clients() waits for ever and never calls accept().
edit carol '
i = s.index("static int serve_clients(int listener, long max_clients)\n{")
j = s.index("\n}\n", i)
s = s[:i] + """static int serve_clients(int listener, long max_clients)
{
	(void)listener;
	(void)max_clients;
	(void)serve_client;
	for (;;)
		pause();""" + s[j:]'
# dave: a NULL dereference at the top of serve_client().
edit dave '
a = "static void serve_client(int fd, const char *who)\n{\n"
i = s.index(a) + len(a)
s = s[:i] + "\tvolatile char *oops = NULL;\n\n\t*oops = 1;\n" + s[i:]'
# frank: a missing semicolon.
edit frank 's = s.replace("listener_fd = listener;", "listener_fd = listener", 1)'
# gina: once listening, prints without end.
edit gina '
i = s.index("static int serve_clients(int listener, long max_clients)\n{")
j = s.index("\n}\n", i)
s = s[:i] + """static int serve_clients(int listener, long max_clients)
{
	(void)listener;
	(void)max_clients;
	(void)serve_client;
	for (;;)
		puts("flooding the output with this line, again and again");""" + s[j:]'

# mallory attacks a listener of ours that no student was given, and names
# its processes and files after this run.
MARK="hostile$$"
python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
n = 0
while True:
    c, _ = s.accept()
    n += 1
    open(sys.argv[1] + ".count", "w").write(str(n))
    c.close()
' "$TMP/listener" &
listener=$!
for _ in $(seq 100); do [ -s "$TMP/listener.port" ] && break; sleep 0.05; done
python3 tests/exercise/plant.py --inject tests/exercise/hostile.c "$class/mallory/02-tcp-echo/server.c" \
  hostile CLASS="$class" PORT="$(cat "$TMP/listener.port")" MARK="$MARK"

# Every file of every folder but mallory's, with its checksum.
sums() { (cd "$class" && find . -path ./mallory -prune -o -type f -print0 | sort -z | xargs -0 sha256sum); }
sums > "$TMP/sums.before"

t0=$(now_ms)
mkdir -p "$TMP/tmpdir"
TMPDIR="$TMP/tmpdir" timeout --kill-after=5 "$RUN_DEADLINE" "$EX" check --all "$class" 02 --tap --timeout "$TIMEOUT" \
  -j 2 --save "$TMP/out" >"$TMP/tap" 2>"$TMP/table"
rc=$?
ms=$(( $(now_ms) - t0 ))
table=$(cat "$TMP/table")
expect '[ $rc -eq 0 ]' "the grading run completes: exit $rc after $ms ms (deadline ${RUN_DEADLINE} s)" "$table"

# row STUDENT: the student's line of the table.
row() { printf '%s\n' "$table" | grep -E "^$1 " | tail -n 1; }
cells() { row "$1" | awk '{ print $2, $3, $4, $5, $6 }'; }
why() { printf '%s\n' "$table" | grep -E "^  $1(,|:) "; }

expect '[ "$(cells alice)" = "ok pass pass pass 3/3" ]' "alice (correct) passes every step" "$(row alice)"
expect '[ "$(cells erin)" = "ok pass pass pass 3/3" ]' "erin (server.c alone, no folder) passes every step" "$(row erin)"
expect '[ "$(cells bob)" = "ok FAIL FAIL FAIL 0/3" ]' "bob (the stub) fails every step" "$(row bob)"
expect '[[ "$(cells carol)" == "ok TIME "* ]] && [[ "$(cells carol)" == *" 0/3" ]]' \
  "carol (hangs) is stopped by the deadline at step 1 and passes nothing" "$(row carol)"
if [ "$SANITIZED" -eq 0 ]; then
  expect '[ "$(cells dave)" = "ok pass CRASH CRASH 1/3" ] && why dave | grep -q "crashed with SIGSEGV"' \
    "dave (NULL dereference) passes step 1, then crashes with SIGSEGV, and the note says so" \
    "$(row dave)"$'\n'"$(why dave)"
else
  # The sanitizer reports the NULL store itself, before any signal.
  expect '[[ "$(cells dave)" =~ ^ok\ pass\ (CRASH|FAIL)\ (CRASH|FAIL)\ 1/3$ ]]' \
    "dave (NULL dereference) passes step 1, then fails (sanitizer build: no signal to name)" \
    "$(row dave)"$'\n'"$(why dave)"
fi
expect '[ "$(cells frank)" = "FAIL - - - 0/3" ] && why frank | grep -q "does not compile: .*error:"' \
  "frank does not compile, and the note quotes the compiler" "$(row frank)"$'\n'"$(why frank)"
expect '[[ "$(cells gina)" == *" 0/3" ]] && ! row gina | grep -q pass' \
  "gina (floods its output) passes no step" "$(row gina)"
if [ "$SANITIZED" -eq 0 ]; then
  expect '[ "$(cells mallory)" = "ok pass pass pass 3/3" ]' \
    "mallory (hostile) passes every step: none of the attacks worked" "$(row mallory)"$'\n'"$(why mallory)"
else
  # LeakSanitizer needs a process of its own at exit, which mallory's 200
  # forks may have taken (the box's limit is 256): a step may fail, but
  # no attack may work (an attack that works aborts: CRASH).
  expect '[[ "$(cells mallory)" == "ok "* ]] && ! row mallory | grep -q CRASH' \
    "mallory (hostile): no attack worked (no CRASH; a sanitizer build may fail a step)" \
    "$(row mallory)"$'\n'"$(why mallory)"
fi

# ---- the box ----
sums > "$TMP/sums.after"
expect 'cmp -s "$TMP/sums.before" "$TMP/sums.after"' \
  "every folder but mallory's is unchanged (sha256 of each file)" "$(diff "$TMP/sums.before" "$TMP/sums.after")"
stray=$(ls -d "$class/$MARK"* /tmp/"$MARK"* "$TMP/tmpdir/$MARK"* 2>/dev/null)
expect '[ -z "$stray" ]' "nothing of mallory's appeared in the class folder or in /tmp" "$stray"
expect '[ ! -e "$TMP/listener.count" ]' "the test's own listener saw no connection" \
  "$(cat "$TMP/listener.count" 2>/dev/null) connections"
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null
left=$(pgrep -x "$MARK")
expect '[ -z "$left" ]' "none of mallory's 200 forked processes is left" "$left"
box=$(printf '%s\n' "$table" | grep '^Box: ')
if [ "$(id -u)" -eq 0 ] &&
   setpriv --reuid=65534 --regid=65534 --clear-groups test -r "$ROOT/Makefile" 2>/dev/null; then
  want_box="Box: namespaces (user, net, pid, mount, ipc), as uid 65534; rlimits: CPU 120 s"
elif [ "$(id -u)" -eq 0 ]; then
  # A checkout uid 65534 cannot read (one under a mktemp -d folder): the
  # box keeps root, and says why.
  want_box="Box: namespaces (user, net, pid, mount, ipc), as root (uid 65534 cannot read the socklab tree); rlimits: CPU 120 s"
else
  want_box="Box: namespaces (user, net, pid, mount, ipc), as the grader's own uid; rlimits: CPU 120 s"
fi
expect '[[ "$box" == "$want_box"* ]]' "the table says how the code was boxed" "$box"

# The deadline, not the programs, decides how long a bad student takes: left
# alone each would run for ever. Each step's time also holds the build and
# the test program's start, slow on a loaded machine: 10 s of slack a step.
for s in carol gina; do
  t=$(row "$s" | awk '{ print $NF }' | tr -d s)
  expect "awk -v t=$t 'BEGIN { exit !(t <= 3 * ($TIMEOUT + 10)) }'" \
    "$s is cut off by the per-test deadline: ${t} s for 3 steps of ${TIMEOUT} s" "$(row "$s")"
done

# ---- TAP ----
tap=$(cat "$TMP/tap")
plan=$(printf '%s\n' "$tap" | sed -n '2p')
points=$(printf '%s\n' "$tap" | grep -Ec '^(ok|not ok) [0-9]+ - ')
oks=$(printf '%s\n' "$tap" | grep -Ec '^ok [0-9]+ - ')
notoks=$(printf '%s\n' "$tap" | grep -Ec '^not ok [0-9]+ - ')
inorder=$(printf '%s\n' "$tap" | grep -E '^(ok|not ok) ' | sed -E 's/^(ok|not ok) ([0-9]+) .*/\2/' |
  awk '$1 != NR { bad = 1 } END { print bad ? "no" : "yes" }')
diag=$(printf '%s\n' "$tap" | awk '/^not ok / { want = 1; next } want { if ($0 !~ /^# /) miss++; want = 0 } END { print miss + 0 }')
other=$(printf '%s\n' "$tap" | grep -Ev '^(TAP version 13|1\.\.[0-9]+|(ok|not ok) [0-9]+ - .*|# .*)$')
expect '[ "$(printf "%s\n" "$tap" | head -n 1)" = "TAP version 13" ] && [ "$plan" = "1..24" ] && [ "$points" -eq 24 ] && [ "$inorder" = yes ]' \
  "TAP: version line, plan 1..24, 24 points numbered in order" "$tap"
# ok points: as many as "pass" cells in the table (10 but in a sanitizer
# build, where mallory may fail a step).
want_oks=$(printf '%s\n' "$table" | grep -E '^[a-z]+ +(ok|FAIL|-) ' | grep -o ' pass ' | wc -l)
[ "$SANITIZED" -eq 0 ] && want_oks=10
expect '[ "$oks" -eq "$want_oks" ] && [ "$notoks" -eq $((24 - want_oks)) ] && [ "$diag" -eq 0 ] && [ -z "$other" ]' \
  "TAP: $want_oks ok, $((24 - want_oks)) not ok, each failure followed by a diagnostic, no stray line" "$tap"
expect 'printf "%s\n" "$tap" | grep -q "^ok 1 - alice: lesson 02 step 1: bind and listen$"' \
  "TAP: a point names the student, the lesson, the step and its title"
if command -v prove >/dev/null; then
  pout=$(prove -e cat "$TMP/tap" 2>&1)
  expect '! printf "%s" "$pout" | grep -qi "parse error" && printf "%s" "$pout" | grep -q "Failed $((24 - want_oks))/24 subtests"' \
    "TAP: prove reads it without a parse error and counts $((24 - want_oks)) of 24 failed" "$pout"
else
  echo "skip: prove is not installed"
fi

# ---- the other formats, from --save ----
if command -v xmllint >/dev/null; then
  xout=$(xmllint --noout --schema tests/exercise/junit.xsd "$TMP/out/junit.xml" 2>&1)
  expect '[ $? -eq 0 ]' "JUnit: junit.xml validates against tests/exercise/junit.xsd (xmllint)" "$xout"
else
  echo "skip: xmllint is not installed"
fi
fmt=$(python3 tests/exercise/formats.py "$TMP/out" "$SANITIZED" 2>&1)
expect '[ "$fmt" = ok ]' \
  "JSON, CSV, JUnit and TAP read back: points add up; timeout, crash and build error told apart" "$fmt"

# ---- the same as graded without mallory ----
mkdir -p "$TMP/without"
for s in alice bob dave erin frank; do cp -a "$class/$s" "$TMP/without/"; done
TMPDIR="$TMP/tmpdir" timeout --kill-after=5 "$RUN_DEADLINE" "$EX" check --all "$TMP/without" 02 \
  --timeout "$TIMEOUT" -j 2 --format json >"$TMP/without.json" 2>/dev/null
same=$(python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sa = {s["name"]: [st["status"] for st in s["steps"]] for s in a["students"]}
sb = {s["name"]: [st["status"] for st in s["steps"]] for s in b["students"]}
print("\n".join("%s: %s with mallory, %s without" % (n, sa.get(n), sb[n]) for n in sb if sa.get(n) != sb[n]) or "ok")
' "$TMP/out/results.json" "$TMP/without.json" 2>&1)
expect '[ "$same" = ok ]' "the others' results are the same when they are graded without mallory" "$same"

left=$(pgrep -af "$TMP/|/tmp/socklab-box/" | grep -v pgrep)
expect '[ -z "$left" ]' "nothing a student's program started is still running" "$left"
leftdirs=$(ls -A "$TMP/tmpdir")
expect '[ -z "$leftdirs" ]' "the temporary build folders are removed" "$leftdirs"

finish
