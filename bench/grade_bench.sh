#!/usr/bin/env bash
# grade_bench.sh — how much `socklab check --all -j N` saves: a class of
# 20 submissions of lesson 02 (14 correct, 3 that fail a step the way
# students do, 3 that do not build), graded once with -j 1 and once with
# -j 2, each student in its box. Prints each run's wall time and the ratio.
#
# Usage: bench/grade_bench.sh [JOBS...]   (default: 1 2). SOCKLAB_BUILD
# names the build folder (default build).
set -u
cd "$(dirname "$0")/.." || exit 1
B=${SOCKLAB_BUILD:-build}
EX="$B/socklab-exercise"
jobs=("$@")
[ ${#jobs[@]} -eq 0 ] && jobs=(1 2)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/socklab-gradebench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
class="$tmp/class"

for i in $(seq -w 1 20); do
  if [ "$i" -le 14 ]; then solved=3; elif [ "$i" -le 17 ]; then solved=2; else solved=3; fi
  SOCKLAB_WORK="$class/student$i" "$EX" exercise 02 --solved "$solved" >/dev/null || exit 1
  # The last three do not compile.
  if [ "$i" -gt 17 ]; then
    printf '#error handed in half written\n' >> "$class/student$i/02-tcp-echo/server.c"
  fi
done

echo "grading 20 submissions of lesson 02 (14 correct, 3 failing step 3, 3 not building)"
first=""
for j in "${jobs[@]}"; do
  t0=$(date +%s%N)
  SOCKLAB_HOME="$PWD" "$EX" check --all "$class" 02 --timeout 60 -j "$j" --format csv \
    > "$tmp/j$j.csv" 2>/dev/null
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  passed=$(awk -F, 'NR > 1 && $2 == 3 { n++ } END { print n + 0 }' "$tmp/j$j.csv")
  [ -z "$first" ] && first=$ms
  awk -v j="$j" -v ms="$ms" -v first="$first" -v passed="$passed" -v j0="${jobs[0]}" 'BEGIN {
    printf "  -j %-2s %6.1f s   (%s of 20 with every point; %.2fx the time of -j %s)\n",
      j, ms / 1000, passed, ms / first, j0 }' 
done
