#!/usr/bin/env bash
# bench/tcptime.sh — how often TCP over time samples a transfer: the
# target is at least 10 TCP_INFO samples a second while data flows.
#
#   SOCKLAB_BUILD=build bench/tcptime.sh
#
# tests/progs/bulk sends 16 MB over loopback to a reader that pauses 5 ms
# after each 64 KB (about 2 s). Two ways of watching it:
#  - watch: `socklab watch PORT --batch`, the transfer started outside
#    socklab: the sock_diag dumps alone set the pace;
#  - trace: `socklab trace --batch -- bulk`: every call the shim reports
#    brings a dump sooner as well (what a lesson run sees).
# For each, the sending socket's samples ("tcp over time" in the --batch
# output) divided by the time from its first to its last, median of
# RUNS (default 3) runs.
set -u
cd "$(dirname "$0")/.." || exit 1
B=${SOCKLAB_BUILD:-build}
RUNS=${RUNS:-3}
SOCKLAB=$B/socklab
BULK=$B/tests/progs/bulk
for p in "$SOCKLAB" "$BULK"; do
  [ -x "$p" ] || { echo "bench/tcptime.sh: $p is not built (make tests)"; exit 1; }
done
tmp=$(mktemp -d)
bulk_pid=
trap 'kill $bulk_pid 2>/dev/null; rm -rf "$tmp"' EXIT

# The sender's samples a second in a --batch output (file $1): the socket
# with the most samples; "n rate".
rate() {
  awk '
    /^tcp over time$/ { on = 1; next }
    on && /^  [^ ]/ { sock = $0; next }
    on && /^    / { n[sock]++; t = $1 + 0; if (!(sock in first)) first[sock] = t; last[sock] = t; next }
    on { on = 0 }
    END {
      best = ""
      for (s in n) if (best == "" || n[s] > n[best]) best = s
      if (best == "" || last[best] <= first[best]) { print 0, 0; exit }
      printf "%d %.1f\n", n[best], n[best] / (last[best] - first[best])
    }' "$1"
}

median() {
  sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'
}

echo "TCP over time: samples a second of a 16 MB loopback transfer (tests/progs/bulk 16 5)"
for mode in watch trace; do
  rates=()
  for _ in $(seq "$RUNS"); do
    out=$tmp/$mode.txt
    if [ "$mode" = watch ]; then
      # The transfer starts 1 s after bulk says where it listens.
      "$BULK" 16 5 1000 > "$tmp/bulk.txt" &
      bulk_pid=$!
      port=
      for _ in $(seq 100); do
        port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/bulk.txt")
        [ -n "$port" ] && break
        sleep 0.05
      done
      "$SOCKLAB" watch "$port" --batch --timeout 5 > "$out" 2>/dev/null
      wait "$bulk_pid"
      bulk_pid=
    else
      "$SOCKLAB" trace --batch -- "$BULK" 16 5 > "$out" 2>/dev/null
    fi
    read -r n r < <(rate "$out")
    printf '  %-6s %4d samples, %6.1f a second\n' "$mode" "$n" "$r"
    rates+=("$r")
  done
  m=$(printf '%s\n' "${rates[@]}" | median)
  verdict=$(awk -v m="$m" 'BEGIN { print (m >= 10 ? "PASS" : "MISS") }')
  printf '  %-62s %s  %s a second (>= 10)\n' "$mode: samples while data flows, median of $RUNS" "$verdict" "$m"
done
