#!/usr/bin/env bash
# nft-loss.sh — lesson 14: let the kernel itself lose datagrams.
#
# What it shows: the server's --drop is the program choosing not to
# answer. Here the server answers everything, and an nftables rule in the
# kernel throws away datagrams on their way to it, before any socket sees
# them. The client cannot tell the two apart: a reply just never comes.
#
# It runs in a private network namespace (unshare -rn: a user namespace in
# which you are root, and a network namespace with nothing but its own
# loopback), so the rule touches no real interface, needs no sudo where
# user namespaces are allowed, and disappears when the script ends.
#
# usage: lessons/14-udp/nft-loss.sh [-e K | -P PCT] [-c COUNT] [-r R] [-t MS]
#   -e K      drop every K-th datagram sent to the server (default 4)
#   -P PCT    drop each datagram with probability PCT% instead
#   -c COUNT  datagrams the client sends (default 20)
#   -r R      the client's retries (default 0: every loss shows)
#   -t MS     the client's timeout (default 200)
# Programs are taken from ${SOCKLAB_BUILD:-build}/lessons/14-udp/.
# Exit status: 0 the demo ran, 1 it could not (nft or namespaces missing),
# 2 bad command line.
set -u

prog=nft-loss.sh
args=("$@") # for the second run, inside the namespace
every=4 percent= count=20 retries=0 timeout=200

usage() {
  sed -n '14,23s/^# \{0,1\}//p' "$0"
}

die() { echo "$prog: $*" >&2; exit 1; }
bad() { echo "$prog: $*" >&2; echo "Try '$prog -h' for help." >&2; exit 2; }

# A whole number in [min, max], or exit 2.
number() { # name value min max
  case $2 in ''|*[!0-9]*) bad "bad $1 '$2': expected a number from $3 to $4" ;; esac
  [ ${#2} -le 9 ] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
    bad "bad $1 '$2': expected a number from $3 to $4"
}

while getopts ":he:P:c:r:t:" opt; do
  case $opt in
    h) usage; exit 0 ;;
    e) number "interval" "$OPTARG" 1 1000000; every=$OPTARG; percent= ;;
    P) number "percentage" "$OPTARG" 0 100; percent=$OPTARG ;;
    c) number "count" "$OPTARG" 1 1000000; count=$OPTARG ;;
    r) number "retry count" "$OPTARG" 0 100; retries=$OPTARG ;;
    t) number "timeout" "$OPTARG" 1 600000; timeout=$OPTARG ;;
    :) bad "option -$OPTARG needs an argument" ;;
    *) bad "unknown option -$OPTARG" ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || bad "unexpected argument '$1'"

# nft often lives in /usr/sbin, which an ordinary user's PATH may lack.
nft=$(PATH=$PATH:/usr/sbin:/sbin command -v nft) ||
  die "nft not found: install the nftables package (apt-get install nftables)"
ip=$(PATH=$PATH:/usr/sbin:/sbin command -v ip) ||
  die "ip not found: install the iproute2 package"

# ---- outside: re-run this script inside a private network namespace ----
if [ "${SOCKLAB_NFT_NETNS:-}" != 1 ]; then
  command -v unshare >/dev/null || die "unshare not found (util-linux)"
  unshare -rn true 2>/dev/null ||
    die "cannot make a private network namespace (unshare -rn failed: user namespaces may be disabled here)"
  SOCKLAB_NFT_NETNS=1 exec unshare -rn "$BASH" "$0" "${args[@]}"
fi

# ---- inside: our own loopback, our own nftables ruleset ----
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${SOCKLAB_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/lessons/14-udp
[ -x "$bin/server" ] && [ -x "$bin/client" ] ||
  die "build the programs first: make $bin/server $bin/client"

"$ip" link set lo up || die "ip link set lo up failed"

tmp=$(mktemp -d) || die "mktemp failed"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

"$bin/server" -q -p 0 >"$tmp/server.out" 2>&1 &
server_pid=$!

# Wait (at most 10 s) for "listening on 127.0.0.1:PORT".
port=
for _ in $(seq 200); do
  port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/server.out")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.05
done
[ -n "$port" ] || die "the server did not start: $(cat "$tmp/server.out")"

# numgen inc counts every packet that reaches the rule: 0, 1, 2, ...;
# "mod K K-1" matches the K-th, 2K-th, ... as server --drop K does.
if [ -n "$percent" ]; then
  match="numgen random mod 100 < $percent"
  what="each with probability $percent%"
else
  match="numgen inc mod $every $((every - 1))"
  what="number $every, $((2 * every)), $((3 * every)), ..."
fi
"$nft" -f - <<EOF || die "nft could not load the rule"
table inet socklab_loss {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport $port $match counter drop
  }
}
EOF

echo "== private network namespace: of the datagrams to port $port, the kernel drops $what"
"$nft" list table inet socklab_loss
echo
echo "== client -p $port -c $count -r $retries -t $timeout"
"$bin/client" -p "$port" -c "$count" -r "$retries" -t "$timeout"
echo "(client exit status $?)"
echo
echo "== the rule's counter: datagrams the kernel dropped"
"$nft" list table inet socklab_loss | grep counter
echo
echo "== the server saw only what got through"
kill -TERM "$server_pid"
wait "$server_pid"
server_pid=
grep -v '^listening on' "$tmp/server.out"
exit 0
