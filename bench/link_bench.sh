#!/usr/bin/env bash
# link_bench.sh — the cost of socklab's link between hosts (--hosts): the
# same two programs, on the same two hosts, joined once by a plain veth
# pair (bench/netpair: nothing between them) and once through socklab
# (socklab trace --hosts --batch: every frame crosses socklab's process,
# which also feeds its model and its sock_diag dumps as on screen).
#
# The programs are bench/linkbench: ROUNDS round trips of 64 bytes, each
# timed (p50 and p99), then a bulk transfer for SECS seconds (Mbit/s).
# They run untraced (env -u LD_PRELOAD): the trace shim's cost is
# bench/shim_bench.sh's business, not the link's. RUNS rounds, the plain
# pair and the link back to back in each, so that the machine's changes of
# pace fall on both alike; the medians are compared.
#
# Targets: the link carries a bulk transfer at >= 1 Gbit/s, and adds at
# most 50 us to a round trip at p50.
#
#   RUNS=3 LINK_ROUNDS=20000 LINK_SECONDS=2 SOCKLAB_BUILD=build bench/link_bench.sh
set -u
B=${SOCKLAB_BUILD:-build}
RUNS=${RUNS:-3}
ROUNDS=${LINK_ROUNDS:-20000}
SECS=${LINK_SECONDS:-2}
LB=$(realpath "$B/bench/linkbench" 2>/dev/null)
PAIR=$B/bench/netpair
SOCKLAB=$B/socklab

for p in "$LB" "$PAIR" "$SOCKLAB"; do
  [ -n "$p" ] && [ -x "$p" ] || { echo "link_bench: ${p:-linkbench} is not built (run make)" >&2; exit 1; }
done
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

plain_p50=() plain_p99=() plain_bulk=() link_p50=() link_p99=() link_bulk=()
client=("$LB" client -b '{server}' -p '{port}' -r "$ROUNDS" -t "$SECS")
for ((i = 1; i <= RUNS; i++)); do
  p=$("$PAIR" -- "$LB" server -b '{server}' -- "${client[@]}" 2>"$tmp/pair.err" | grep '^result ')
  [ -n "$p" ] || { echo "link_bench: the plain pair failed:"; cat "$tmp/pair.err"; exit 1; }
  rm -f "$tmp/link"
  "$SOCKLAB" trace --batch --timeout $((SECS * 4 + 60)) --hosts -- \
    env -u LD_PRELOAD -u SOCKLAB_TRACE "$LB" server -b '{server}' -- \
    env -u LD_PRELOAD -u SOCKLAB_TRACE "${client[@]}" -o "$tmp/link" >/dev/null 2>"$tmp/link.err"
  l=$(cat "$tmp/link" 2>/dev/null)
  [ -n "$l" ] || { echo "link_bench: the run through the link failed:"; cat "$tmp/link.err"; exit 1; }
  [ -s "$tmp/link.err" ] && sed 's/^/   /' "$tmp/link.err"
  plain_p50+=("$(field rtt_p50_us "$p")") plain_p99+=("$(field rtt_p99_us "$p")")
  plain_bulk+=("$(field bulk_mbit "$p")")
  link_p50+=("$(field rtt_p50_us "$l")") link_p99+=("$(field rtt_p99_us "$l")")
  link_bulk+=("$(field bulk_mbit "$l")")
  printf '   run %d: plain veth  p50 %7s us  p99 %8s us  bulk %6s Mbit/s\n' "$i" \
    "${plain_p50[-1]}" "${plain_p99[-1]}" "${plain_bulk[-1]}"
  printf '          the link    p50 %7s us  p99 %8s us  bulk %6s Mbit/s\n' \
    "${link_p50[-1]}" "${link_p99[-1]}" "${link_bulk[-1]}"
done

pp50=$(printf '%s\n' "${plain_p50[@]}" | median) lp50=$(printf '%s\n' "${link_p50[@]}" | median)
pp99=$(printf '%s\n' "${plain_p99[@]}" | median) lp99=$(printf '%s\n' "${link_p99[@]}" | median)
pb=$(printf '%s\n' "${plain_bulk[@]}" | median) lb=$(printf '%s\n' "${link_bulk[@]}" | median)
added=$(awk -v a="$lp50" -v b="$pp50" 'BEGIN { printf "%.1f", a - b }')
echo
echo "Medians of $RUNS runs ($ROUNDS round trips of 64 bytes, ${SECS} s bulk; $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
printf '  %-12s %10s %10s %14s\n' "" "p50 us" "p99 us" "bulk Mbit/s"
printf '  %-12s %10s %10s %14s\n' "plain veth" "$pp50" "$pp99" "$pb"
printf '  %-12s %10s %10s %14s\n' "the link" "$lp50" "$lp99" "$lb"
printf '  %-12s %10s %10s %14s\n' "link/plain" \
  "$(awk -v a="$lp50" -v b="$pp50" 'BEGIN { printf "%.2f", a / b }')" \
  "$(awk -v a="$lp99" -v b="$pp99" 'BEGIN { printf "%.2f", a / b }')" \
  "$(awk -v a="$lb" -v b="$pb" 'BEGIN { printf "%.2f", a / b }')"
echo
echo "Targets (from this run)"
if awk -v v="$lb" 'BEGIN { exit !(v >= 1000) }'; then r=PASS; else r=MISS; fi
printf '  %-62s %s  %s Mbit/s (>= 1000)\n' "bulk through the link" "$r" "$lb"
if awk -v v="$added" 'BEGIN { exit !(v <= 50) }'; then r=PASS; else r=MISS; fi
printf '  %-62s %s  %s us (<= 50)\n' "added to a round trip at p50" "$r" "$added"
