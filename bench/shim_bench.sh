#!/usr/bin/env bash
# shim_bench.sh — what the trace shim costs: a ping-pong of ROUNDS round
# trips (4 socket calls each) between two threads over a socketpair, and
# ROUNDS send+recv pairs in one thread, run RUNS times in each of
#   plain     no shim
#   stalled   traced, the visualizer accepts and never reads (free-run:
#             the shim drops events instead of waiting)
#   draining  traced, the visualizer reads every event
# and prints the median time per round and the overhead against plain.
# The idle shim (preloaded, SOCKLAB_TRACE unset) costs too little to be
# seen that way: between runs this machine changes pace (it moves between
# two regimes, one about twice as fast as the other). Its 2% target is
# judged by `shim_bench paired`, one run in which blocks through the shim
# and blocks calling libc directly are mixed: PAIRED runs, the median; and
# as many without the shim, where both kinds are libc's, for the noise of
# the method itself.
#
#   bench/shim_bench.sh [ROUNDS]   (RUNS=5, PAIRED=7, SOCKLAB_BUILD=build, CC=cc)
set -eu
cd "$(dirname "$0")/.."
B=${SOCKLAB_BUILD:-build}
ROUNDS=${1:-100000}
RUNS=${RUNS:-5}
PAIRED=${PAIRED:-7}
SHIM=$B/lib/libsltrace.so

[ -f "$SHIM" ] || make B="$B" "$SHIM" >/dev/null
SHIM=$(realpath "$SHIM")

dir=$(mktemp -d)
# Its own build, never a sanitizer one: a preloaded shim and a sanitizer
# runtime do not mix.
BENCH=$dir/shim_bench
${CC:-cc} -O2 -g -D_GNU_SOURCE -pthread -o "$BENCH" bench/shim_bench.c
vis_pids=()
cleanup() {
  # Each visualizer is stopped and waited for; a failing kill or wait
  # (status 143) must not end the loop under set -e.
  for p in "${vis_pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT

# One run of a benchmark ($1: pingpong or calls) under the env that
# follows: its ns/round. Pinned to one CPU when taskset is there: two
# threads on two CPUs make the ping-pong's wake-ups far noisier.
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
run() {
  local what=$1
  shift
  env "$@" "${pin[@]}" "$BENCH" "$what" "$ROUNDS" | awk '{ print $5 }'
}

median() {
  sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# A stand-in visualizer (stall or drain) on its own path.
start_vis() {
  local out=$dir/$1.out
  "$BENCH" visualizer "$dir/$1.sock" "$1" 600 > "$out" &
  vis_pids+=($!)
  for _ in $(seq 100); do
    grep -q listening "$out" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "visualizer did not start" >&2
  exit 1
}

start_vis stall
start_vis drain
# The modes take turns, run after run, so a change in the machine's load
# falls on all of them alike.
modes=(plain stalled draining)
envs=("" "LD_PRELOAD=$SHIM SOCKLAB_TRACE=$dir/stall.sock"
      "LD_PRELOAD=$SHIM SOCKLAB_TRACE=$dir/drain.sock")
for what in pingpong calls; do
  for _ in $(seq "$RUNS"); do
    for i in "${!modes[@]}"; do
      # shellcheck disable=SC2086  # envs[i] is a list of VAR=value words
      run "$what" ${envs[i]} >> "$dir/$what.${modes[i]}"
    done
  done
done

report() {
  local plain v
  plain=$(median < "$dir/$1.plain")
  for m in "${modes[@]}"; do
    v=$(median < "$dir/$1.$m")
    awk -v m="$m" -v v="$v" -v p="$plain" \
      'BEGIN { printf "  %-9s %8d ns/round  %+7.1f%%\n", m, v, (v - p) * 100 / p }'
  done
}
echo "ping-pong: $ROUNDS round trips between two threads over a socketpair"
echo "(4 socket calls per round), median of $RUNS runs${pin:+, on one CPU}"
report pingpong
echo "calls: one thread, send + recv of one byte, $ROUNDS times (2 calls per round)"
report calls

# paired ENV...: the median overhead of PAIRED paired runs.
paired() {
  for _ in $(seq "$PAIRED"); do
    env "$@" "${pin[@]}" "$BENCH" paired "$ROUNDS" | sed -n 's/.* overhead \([-+0-9.]*\)%$/\1/p'
  done | median
}
idle=$(paired LD_PRELOAD="$SHIM")
noise=$(paired)
echo "paired: the ping-pong in blocks of 100 rounds, through the shim (idle) or"
echo "straight to libc, mixed in one run; median of $PAIRED runs"
printf '  %-62s %s  %+.2f%% (< 2%%)\n' "the idle shim (SOCKLAB_TRACE unset) against libc" \
  "$(awk -v x="$idle" 'BEGIN { print (x < 2 ? "PASS" : "MISS") }')" "$idle"
printf '  %-62s       %+.2f%%\n' "the same without the shim (the method's own noise)" "$noise"
