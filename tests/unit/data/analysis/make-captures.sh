#!/usr/bin/env bash
# make-captures.sh [OUTDIR [NAME...]] — make the captures test_analysis.c reads (see
# README.md): for each scenario, two hosts (network namespaces with eth0,
# 10.0.0.2 the client and 10.0.0.1 the server, tx checksum/TSO/GSO off)
# joined by bridge.py, the userspace link, which drops or holds the frames
# its rules name and writes every TCP frame with its fate. Runs as any user
# who may create user namespaces (it enters one with unshare -rn); needs
# python3, ip and nsenter. Not run by the tests.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "${1:-$here}" && pwd)
if [ "${MKCAP_INNER:-}" != 1 ]; then
	shift || true
	exec env MKCAP_INNER=1 unshare -rn --fork --kill-child bash "$0" "$out" "$@"
fi
shift
only=" $* "
ip link set lo up
peer="python3 $here/peer.py"
# The hosts, the link and the server of the scenario running: stopped
# whatever happens.
c= s= b= sp=
trap 'kill $c $s $b $sp 2>/dev/null || true' EXIT

# scenario NAME "SERVER ARGS" "CLIENT ARGS" RULE... ; {port} in the
# arguments is the file where the server writes its port.
scenario() {
	local name=$1 srv=$2 cli=$3 tmp size
	shift 3
	[ "$only" = "  " ] || [[ "$only" == *" $name "* ]] || return 0
	tmp=$(mktemp -d)
	unshare -n sleep 600 & c=$!
	unshare -n sleep 600 & s=$!
	# Each host's namespace exists once its sleep has left ours.
	while [ "$(readlink /proc/$c/ns/net)" = "$(readlink /proc/self/ns/net)" ] ||
	      [ "$(readlink /proc/$s/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do
		sleep 0.01
	done
	ip link add m1 type veth peer name eth0 netns "$c"
	ip link add m0 type veth peer name eth0 netns "$s"
	ip link set m0 up
	ip link set m1 up
	nsenter -t "$c" -n sh -c "ip link set lo up && ip addr add 10.0.0.2/24 dev eth0 && ip link set eth0 up && $peer offload eth0"
	nsenter -t "$s" -n sh -c "ip link set lo up && ip addr add 10.0.0.1/24 dev eth0 && ip link set eth0 up && $peer offload eth0"
	python3 "$here/bridge.py" "$tmp/cap" m1 m0 "$@" &
	b=$!
	# A SYN sent before the link is up would wait for ARP, and the
	# kernel would time the handshake from it.
	while [ ! -e "$tmp/cap" ]; do
		sleep 0.01
	done
	nsenter -t "$s" -n $peer ${srv//\{port\}/$tmp/port} &
	sp=$!
	nsenter -t "$c" -n $peer ${cli//\{port\}/$tmp/port}
	wait "$sp"
	# The last ACKs: until the capture has not grown for half a second.
	size=-1
	while [ "$(stat -c %s "$tmp/cap")" != "$size" ]; do
		size=$(stat -c %s "$tmp/cap")
		sleep 0.5
	done
	kill "$b" && wait "$b" || true
	kill "$c" "$s"
	wait "$c" "$s" 2>/dev/null || true
	ip link del m0 2>/dev/null || true
	ip link del m1 2>/dev/null || true
	{
		echo "# $name: made by make-captures.sh on $(uname -sr)"
		echo "# server: peer.py $srv; client: peer.py $cli"
		echo "# link rules: ${*:-none}"
		cat "$tmp/cap"
	} > "$out/$name.cap"
	rm -rf "$tmp"
	echo "$name: $(grep -vc '^#' "$out/$name.cap") lines"
}

# A bulk transfer; the 30th data segment from the client is dropped.
scenario fastretx "server {port}" "send 10.0.0.1 {port} 150000" c2s:data:30
# The first SYN is dropped (resent after 1 s); later the last data
# segment, twice (a tail loss: probe, then timeout).
scenario rto "server {port}" "send 10.0.0.1 {port} 2000" c2s:syn:1 c2s:data:2-3
# The receiver's first 7 ACKs are dropped: the sender resends data the
# receiver had acknowledged (and shuts down only 1 s after its last write).
scenario spurious "server {port}" "send 10.0.0.1 {port} 10000 1" s2c:ack:1-7
# A receiver with a 4 KB buffer that reads nothing for 2.5 s.
scenario zerowin "server {port} 4096 6" "send 10.0.0.1 {port} 100000"
# A client with keep-alive after 1 s, idle for 3.5 s.
scenario keepalive "server {port}" "idle 10.0.0.1 {port} 3.5"
# The 10th data segment overtaken by the next 2 (a capture behind the
# link sees it late), and the 40th held until 3 more have passed.
scenario reorder "server {port}" "send 10.0.0.1 {port} 100000" c2s:data:10:late=2 c2s:data:40:hold=3
# Data both ways at once; the client reads part of what comes and closes
# with the rest unread: its kernel resets the connection.
scenario reset "duplex {port} 200000" "reset 10.0.0.1 {port} 60000 20000"
# The receiver's ACKs take 150 ms through the link (written as they
# come); the second data segment and its first resend dropped.
scenario slowack "server {port}" "send 10.0.0.1 {port} 2000" s2c:any:1-1000:delay=150 c2s:data:2-3
