#!/usr/bin/env bash
# The lesson 02 demo: start the echo server on a free port on loopback, send
# it a message with the lesson's client, show both sides, stop the server.
set -euo pipefail
dir=${1:-build/lessons/02-tcp-echo}
log=$(mktemp)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -f "$log"
}
trap cleanup EXIT

echo "\$ $dir/server -p 0 -n 1 &"
"$dir/server" -p 0 -n 1 >"$log" 2>&1 &
server_pid=$!

# Wait (at most 5 s) for the server to say which port the kernel gave it.
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$port" ]; then
  echo "demo: the server did not start:" >&2; cat "$log" >&2; exit 1
fi
sed 's/^/server| /' "$log"

msg="hello from socklab"
echo "\$ $dir/client -p $port $msg"
"$dir/client" -p "$port" $msg | sed 's/^/client| /'

wait "$server_pid" || true
server_pid=
echo "server output:"
sed 's/^/server| /' "$log"
echo
echo "Next: read lessons/02-tcp-echo/README.md, or run the programs yourself."
