#!/usr/bin/env bash
# bench/run.sh — `make bench`: every echo server design under the same
# closed-loop load, side by side, with two reference lines, and the targets
# checked as ratios from this one run.
#
#   SOCKLAB_BUILD=build bench/run.sh
#   BENCH_DURATION=2 BENCH_WARMUP=0.5 BENCH_CPU=0 BENCH_ONLY=10-epoll,09-poll
#
# For each connection count (1, 10, 100, 1000; 10,000 for the event-driven
# designs epoll, io_uring and the worker processes) every design runs back
# to back: the server started on 127.0.0.1, port 0, and build/bench/loadgen
# driving it for BENCH_WARMUP then BENCH_DURATION seconds, both pinned to
# CPU BENCH_CPU (default 0) with taskset, so the figures compare designs on
# one CPU. A design is every lessons/NN-topic/lesson.conf with an
# "echo-server = PROG ARGS" line (its echo-server-limit, when given, caps
# the counts: a pool of 4 cannot answer a fifth client, lesson 02's
# iterative server a second one). Absent lessons are skipped, and said so.
#
# References: bench/pingpong (a blocking client and server, the limit of one
# connection here), and redis-server (installed with apt-get when missing
# and root) driven by loadgen -m redis at the same counts, and compared at
# 50 connections with redis-benchmark -t ping.
#
# HTTP: lesson 20's server and nginx (Debian's package, installed with
# apt-get when missing and root; started here with a configuration of its
# own, one worker, its temp folders and logs in a temporary folder, on a
# free port) serve the same small static file to loadgen -m http (GET on
# keep-alive connections, every answer checked) at 1, 10, 100 and 1000
# connections, pinned as above: at each count BENCH_HTTP_ROUNDS (3) rounds
# of lesson 20 then nginx, each side counted as its fastest round; reported
# as lesson 20 / nginx, and the CPU each server used per request.
# BENCH_HTTP=0 leaves this part out.
#
# Per point it records messages/s, p50/p99 latency, fairness (fewest and
# most replies on one connection), the server's CPU (utime+stime of it and
# its descendants over the measured window) and peak RSS (VmHWM, summed
# over its processes), and loadgen's own CPU. Output: a table with each
# rate's ratio to epoll's, a bar chart, the targets with PASS/MISS, and
# build/bench/results.csv.
set -u
cd "$(dirname "$0")/.." || exit 1

# ---- the hook loadgen runs at the start and end of each measured window ----
# "run.sh --sample PID FILE PHASE" appends "PHASE NS TICKS RSS_KB" to FILE:
# NS, the CPU time in nanoseconds of PID and every live descendant, all
# their threads (schedstat: exact, where utime and stime count whole clock
# ticks, and a forked child serving one client may use less than one);
# TICKS, the CPU of their reaped children (cutime + cstime); RSS_KB, the sum
# of their VmHWM.
if [ "${1:-}" = --sample ]; then
  root=$2 file=$3 phase=$4
  read -r pids cticks < <(cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$root" '
    {
      pid = $1 + 0
      rest = substr($0, index($0, ") ") + 2)   # the fields after "(comm) "
      if (split(rest, f, " ") < 15) next
      ppid[pid] = f[2] + 0
      reaped[pid] = f[14] + f[15]
    }
    END {
      want[root] = 1; changed = 1
      while (changed) {
        changed = 0
        for (p in ppid) if (!(p in want) && (ppid[p] in want)) { want[p] = 1; changed = 1 }
      }
      list = ""; t = 0
      for (p in want) if (p in ppid) { list = list (list == "" ? "" : ",") p; t += reaped[p] }
      print (list == "" ? root : list), t
    }')
  # shellcheck disable=SC2046
  ns=$(cd /proc && cat $(for p in ${pids//,/ }; do echo "$p/task/*/schedstat"; done) 2>/dev/null |
       awk '{ s += $1 } END { printf "%.0f", s }')
  # shellcheck disable=SC2046
  rss=$(cat $(for p in ${pids//,/ }; do echo "/proc/$p/status"; done) 2>/dev/null |
        awk '/^VmHWM:/ { s += $2 } END { print s + 0 }')
  echo "$phase ${ns:-0} ${cticks:-0} ${rss:-0}" >> "$file"
  exit 0
fi

B=${SOCKLAB_BUILD:-build}
OUT=$B/bench
DUR=${BENCH_DURATION:-2}
WARM=${BENCH_WARMUP:-0.5}
CPU=${BENCH_CPU:-0}
SIZE=64
COUNTS=(1 10 100 1000)
BIG=10000
LOADGEN=$B/bench/loadgen
PINGPONG=$B/bench/pingpong
CSV=$OUT/results.csv
TICK=$(getconf CLK_TCK)
SELF=$(realpath "$0")

mkdir -p "$OUT"
for p in "$LOADGEN" "$PINGPONG"; do
  [ -x "$p" ] || { echo "bench: $p is not built (run make)" >&2; exit 1; }
done
pin=()
if command -v taskset >/dev/null; then
  pin=(taskset -c "$CPU")
else
  echo "bench: taskset not found: nothing is pinned, figures will be noisier"
fi

# 10,000 connections need 10,000 descriptors on each side.
want_fds=$((BIG + 200))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_fds" ]; then
  ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_fds" ]; then
  echo "bench: ulimit -n is $(ulimit -n): the 10,000-connection points are skipped"
  echo "       (as root: ulimit -Hn $want_fds, or raise nofile in limits.conf)"
  BIG=0
fi

tmp=$(mktemp -d)
server_pid=""
redis_pid=""
nginx_pid=""
cleanup() {
  for p in $server_pid $redis_pid $nginx_pid; do
    kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the designs ----------------------------------------------------------------
labels=() cmds=() limits=()
add_design() {
  # BENCH_ONLY=10-epoll,12-io-uring: only these (the references always run).
  if [ -n "${BENCH_ONLY:-}" ] && [[ ",$BENCH_ONLY," != *",$1,"* ]]; then return; fi
  labels+=("$1"); cmds+=("$2"); limits+=("$3")
}

for conf in lessons/[0-9]*/lesson.conf; do
  dir=$(basename "$(dirname "$conf")")
  line=$(sed -n 's/^echo-server[ \t]*=[ \t]*//p' "$conf" | head -n 1)
  [ -n "$line" ] || continue
  limit=$(sed -n 's/^echo-server-limit[ \t]*=[ \t]*//p' "$conf" | head -n 1)
  prog=${line%% *}
  args=""
  [ "$prog" != "$line" ] && args=${line#* }
  if [ ! -x "$B/lessons/$dir/$prog" ]; then
    echo "bench: $dir/$prog is not built: skipped"
    continue
  fi
  add_design "$dir" "$B/lessons/$dir/$prog $args" "${limit:-0}"
done
for want in 05-fork 06-threads 07-thread-pool 08-select 09-poll 10-epoll 11-nonblocking \
            12-io-uring 13-hybrid; do
  found=0
  for l in "${labels[@]}"; do [ "$l" = "$want" ] && found=1; done
  [ $found = 1 ] || echo "bench: lesson $want is absent (no echo-server in its lesson.conf): skipped"
done

# Which designs get the 10,000-connection point: the event-driven ones.
is_big() { case $1 in 10-epoll|12-io-uring|13-hybrid) return 0 ;; esac; return 1; }
# The "idle" point: 10 busy connections beside BIG idle ones (a server with
# many quiet clients). poll() scans every descriptor on every call, epoll
# and io_uring hear only from the ready ones: the point where they part.
# Threads and processes would need BIG of them; select stops at FD_SETSIZE.
is_idle_design() { is_big "$1" && return 0; case $1 in 09-poll|11-nonblocking) return 0 ;; esac; return 1; }
IDLE_BUSY=10
# point_conns N / point_args N: loadgen's -c, and its other options, for a
# point ("idle" is IDLE_BUSY connections plus BIG idle ones).
point_conns() { if [ "$1" = idle ]; then echo "$IDLE_BUSY"; else echo "$1"; fi; }
point_args() { [ "$1" = idle ] && echo "-i $BIG"; }
point_name() { if [ "$1" = idle ]; then echo "$IDLE_BUSY + $BIG idle"; else echo "$1 conns"; fi; }

# ---- one measurement --------------------------------------------------------------
field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# results[label,count] = "rate p50 p99 min max starved lg_cpu srv_cpu_pct rss_kb"
declare -A results

# start_server LABEL CMD...: sets server_pid and server_port, or returns 1.
start_server() {
  local log=$tmp/server.log i
  : > "$log"
  # shellcheck disable=SC2086
  "${pin[@]}" $2 -b 127.0.0.1 -p 0 > "$log" 2>&1 &
  server_pid=$!
  for ((i = 0; i < 100; i++)); do
    server_port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log" | head -n 1)
    [ -n "$server_port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: $1 did not start: $(head -c 300 "$log")"
  stop_server
  return 1
}

stop_server() {
  local i
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=""
}

# measure KEY PID PORT CONNS [loadgen options...]: one loadgen run with the
# sampling hook on PID; fills results[KEY].
measure() {
  local key=$1 pid=$2 port=$3 conns=$4 samples=$tmp/samples out rc
  shift 4
  : > "$samples"
  out=$("${pin[@]}" "$LOADGEN" -p "$port" -c "$conns" -d "$DUR" -w "$WARM" -T 60 \
        -x "$SELF --sample $pid $samples" "$@" 2>&1)
  rc=$?
  local res
  res=$(grep '^result ' <<<"$out")
  if [ $rc -ne 0 ] || [ -z "$res" ]; then
    echo "   $key: loadgen failed (exit $rc): $(tail -n 1 <<<"$out")"
    results[$key]="ERR"
    return 1
  fi
  local rss secs srv
  rss=$(awk '$1 == "end" { print $4 }' "$samples")
  secs=$(field secs "$res")
  # CPU over the window: nanoseconds of the live processes, plus ticks of
  # the children reaped meanwhile; as a share of one CPU.
  srv=$(awk -v s="$secs" -v t="$TICK" '
    $1 == "start" { ns0 = $2; tk0 = $3 }
    $1 == "end" { ns1 = $2; tk1 = $3 }
    END { cpu = (ns1 - ns0) / 1e9 + (tk1 - tk0) / t
          printf "%.0f", (s > 0) ? 100 * cpu / s : 0 }' "$samples")
  results[$key]="$(field rate "$res") $(field p50_us "$res") $(field p99_us "$res") \
$(field min_conn "$res") $(field max_conn "$res") $(field starved "$res") \
$(field cpu_s "$res") $srv ${rss:-0}"
  printf '   %-16s %6s conns %9s msg/s  p50 %8s us  p99 %8s us  server %3s%% CPU %7s KiB\n' \
    "${key%,*}" "$conns" "$(field rate "$res")" "$(field p50_us "$res")" \
    "$(field p99_us "$res")" "$srv" "${rss:-?}"
}

get() { # get KEY N: the Nth field of results[KEY] (1-based)
  local v=${results[$1]:-}
  [ -n "$v" ] && [ "$v" != ERR ] && awk -v n="$2" '{ print $n }' <<<"$v"
}

# ---- run ----------------------------------------------------------------------------
start_time=$(date +%s)
echo "bench: ${#labels[@]} designs, ${DUR} s per point after ${WARM} s warm-up, ${SIZE}-byte"
echo "       messages, server and loadgen pinned to CPU $CPU; ulimit -n $(ulimit -n)"
echo

# The ping-pong reference runs just before and just after epoll at one
# connection, and counts as the mean of the two: drift in the machine's
# load then affects both sides of that ratio alike.
pingpong_runs=()
pingpong() {
  local pp
  pp=$("${pin[@]}" "$PINGPONG" -s "$SIZE" -d "$DUR" -w "$WARM" 2>&1 | grep '^result ')
  pingpong_runs+=("$(field rate "$pp")")
  echo "   pingpong (blocking client and server): ${pingpong_runs[-1]:-failed} round trips/s"
}

all_counts=("${COUNTS[@]}")
[ "$BIG" -gt 0 ] && all_counts+=("$BIG" idle)
for n in "${all_counts[@]}"; do
  if [ "$n" = idle ]; then echo "== $IDLE_BUSY busy connections beside $BIG idle ones"
  else echo "== $n connection$([ "$n" = 1 ] || echo s)"; fi
  for i in "${!labels[@]}"; do
    label=${labels[$i]}
    if [ "$n" = "$BIG" ] && ! is_big "$label"; then continue; fi
    if [ "$n" = idle ] && ! is_idle_design "$label"; then continue; fi
    if [ "${limits[$i]}" -gt 0 ] && [ "$(point_conns "$n")" -gt "${limits[$i]}" ]; then continue; fi
    [ "$label,$n" = 10-epoll,1 ] && pingpong
    start_server "$label" "${cmds[$i]}" || { results[$label,$n]=ERR; continue; }
    # shellcheck disable=SC2046
    measure "$label,$n" "$server_pid" "$server_port" "$(point_conns "$n")" -s "$SIZE" $(point_args "$n")
    stop_server
    [ "$label,$n" = 10-epoll,1 ] && pingpong
  done
done
[ ${#pingpong_runs[@]} -gt 0 ] || pingpong
pingpong_rate=$(printf '%s\n' "${pingpong_runs[@]}" | awk 'NF { s += $1; n++ } END { if (n) printf "%.0f", s / n }')

# ---- HTTP: lesson 20 and nginx ------------------------------------------------------
HTTP_FILE=small.txt
HTTP_SIZE=200
HTTP_ROUNDS=${BENCH_HTTP_ROUNDS:-3}
# best_round LABEL N: results[LABEL,N] = the round (LABEL/rR,N, R from 1
# to HTTP_ROUNDS) with the highest rate; a failed round counts as slowest.
best_round() {
  local r best
  : > "$tmp/rounds"
  for ((r = 1; r <= HTTP_ROUNDS; r++)); do
    local line=${results[$1/r$r,$2]:-ERR}
    if [ "$line" = ERR ]; then echo "-1 $r"; else echo "${line%% *} $r"; fi >> "$tmp/rounds"
  done
  best=$(sort -n "$tmp/rounds" | tail -n 1 | awk '{ print $2 }')
  results[$1,$2]=${results[$1/r$best,$2]:-ERR}
  for ((r = 1; r <= HTTP_ROUNDS; r++)); do unset "results[$1/r$r,$2]"; done
}
http_note=""
http_counts=()
if [ "${BENCH_HTTP:-1}" != 0 ] && [ -x "$B/lessons/20-http/server" ]; then
  if ! command -v nginx >/dev/null && ! [ -x /usr/sbin/nginx ] &&
     [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "== installing nginx (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null 2>&1; }
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  # The file both serve, where nginx's worker (user nobody when the bench
  # runs as root) can read it.
  chmod 755 "$tmp"
  mkdir -p "$tmp/www" "$tmp/nginx"
  head -c $((HTTP_SIZE * 3 / 4)) /dev/urandom | base64 -w 0 > "$tmp/www/$HTTP_FILE"
  chmod 755 "$tmp/www"
  chmod 644 "$tmp/www/$HTTP_FILE"
  if [ -x "$NGINX" ]; then
    nport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat > "$tmp/nginx/nginx.conf" <<EOF
# nginx for bench/run.sh: one worker (lesson 20 is one thread), the usual
# settings for static files (sendfile, no access log), and a connection
# kept for as many requests as the run makes.
daemon off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    default_type text/plain;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$nport;
        root $tmp/www;
    }
}
EOF
    "${pin[@]}" "$NGINX" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" -e "$tmp/nginx/error.log" \
      > "$tmp/nginx.log" 2>&1 &
    nginx_pid=$!
    for ((i = 0; i < 100; i++)); do
      python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
        "$nport" 2>/dev/null && break
      kill -0 "$nginx_pid" 2>/dev/null || break
      sleep 0.1
    done
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
      http_note="nginx did not start: $(cat "$tmp/nginx.log" "$tmp/nginx/error.log" 2>/dev/null | head -c 300)"
      nginx_pid=""
    fi
  else
    http_note="nginx is not installed; to compare with it: sudo apt-get install -y nginx"
  fi
  echo "== HTTP: lesson 20 and $("$NGINX" -v 2>&1 | sed 's|.*version: ||'), GET /$HTTP_FILE ($HTTP_SIZE bytes), loadgen -m http"
  # Each count: HTTP_ROUNDS rounds of lesson 20 then nginx, each side
  # counted as its fastest round. Other work on the CPU only ever slows a
  # round down (this machine is shared), so the fastest is the one it
  # disturbed least, on either side.
  for n in "${COUNTS[@]}"; do
    http_counts+=("$n")
    for ((round = 1; round <= HTTP_ROUNDS; round++)); do
      if start_server 20-http "$B/lessons/20-http/server -r $tmp/www -c $((n + 100)) -t 300"; then
        measure "http-20/r$round,$n" "$server_pid" "$server_port" "$n" -m http -u "/$HTTP_FILE"
        stop_server
      else
        results[http-20/r$round,$n]=ERR
      fi
      [ -n "$nginx_pid" ] &&
        measure "nginx/r$round,$n" "$nginx_pid" "$nport" "$n" -m http -u "/$HTTP_FILE"
    done
    best_round http-20 "$n"
    [ -n "$nginx_pid" ] && best_round nginx "$n"
  done
  if [ -n "$nginx_pid" ]; then
    kill -TERM "$nginx_pid" 2>/dev/null
    wait "$nginx_pid" 2>/dev/null
    nginx_pid=""
  fi
elif [ "${BENCH_HTTP:-1}" != 0 ]; then
  http_note="lesson 20's server is not built: the HTTP points are skipped"
fi

# ---- redis ----------------------------------------------------------------------------
redis_note=""
redis_bench_rate="" loadgen_redis50=""
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "== installing redis-server (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null 2>&1; }
  else
    redis_note="redis-server is not installed; to compare with it: sudo apt-get install -y redis-server"
  fi
fi
if command -v redis-server >/dev/null; then
  # Redis cannot take port 0 (it means "no TCP"): let the kernel pick a free
  # port, release it, and give that to redis.
  rport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${pin[@]}" redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --maxclients $((BIG > 0 ? BIG + 100 : 4000)) --daemonize no --loglevel warning \
    > "$tmp/redis.log" 2>&1 &
  redis_pid=$!
  for ((i = 0; i < 100; i++)); do
    redis-cli -p "$rport" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "== reference: redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') (pid $redis_pid), loadgen -m redis"
  for n in "${all_counts[@]}"; do
    # shellcheck disable=SC2046
    measure "redis,$n" "$redis_pid" "$rport" "$(point_conns "$n")" -m redis $(point_args "$n")
  done
  measure "redis,50" "$redis_pid" "$rport" 50 -m redis
  loadgen_redis50=$(get redis,50 1)
  if command -v redis-benchmark >/dev/null; then
    rb=$("${pin[@]}" redis-benchmark -p "$rport" -t ping -c 50 -n 400000 -q 2>/dev/null | tr '\r' '\n')
    redis_bench_rate=$(sed -n 's/^PING_INLINE: \([0-9.]*\) requests per second.*/\1/p' <<<"$rb" | tail -n 1)
    echo "   redis-benchmark -t ping -c 50: PING_INLINE ${redis_bench_rate:-?} requests/s"
  else
    redis_note="redis-benchmark not found (Debian: redis-tools)"
  fi
  kill -TERM "$redis_pid" 2>/dev/null
  wait "$redis_pid" 2>/dev/null
  redis_pid=""
fi

# ---- report -------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.2f", a / b }'; }

rows=("${labels[@]}")
[ -n "${results[redis,1]:-}" ] && rows+=(redis)
echo
echo "Messages per second (ratio to 10-epoll at the same count), ${SIZE}-byte messages, one CPU"
printf '%-16s' design
for n in "${all_counts[@]}"; do printf ' %18s' "$(point_name "$n")"; done
echo
for label in "${rows[@]}"; do
  printf '%-16s' "$label"
  for n in "${all_counts[@]}"; do
    r=$(get "$label,$n" 1)
    if [ -z "${results[$label,$n]:-}" ]; then cell="-"
    elif [ -z "$r" ]; then cell="failed"
    else
      e=$(get "10-epoll,$n" 1)
      q=$(ratio "$r" "$e")
      cell=$(printf '%.0f' "$r")
      [ -n "$q" ] && cell="$cell ($q)"
    fi
    printf ' %18s' "$cell"
  done
  echo
done
printf '%-16s %18s   (mean of %s)\n' pingpong "${pingpong_rate:-failed}" "${pingpong_runs[*]}"

echo
echo "Server CPU % / peak RSS MiB / loadgen CPU s / fairness (fewest..most replies per connection)"
for label in "${rows[@]}"; do
  for n in "${all_counts[@]}"; do
    v=${results[$label,$n]:-}
    [ -n "$v" ] && [ "$v" != ERR ] || continue
    read -r rate p50 p99 mn mx starved lgcpu srv rss <<<"$v"
    printf '%-16s %12s  server %4s%% CPU %8.1f MiB  loadgen %5s s  p50 %8s us  p99 %9s us  fair %s..%s%s\n' \
      "$label" "$(point_name "$n")" "$srv" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$lgcpu" "$p50" "$p99" "$mn" "$mx" \
      "$([ "$starved" -gt 0 ] && echo " ($starved starved)")"
  done
done

if [ ${#http_counts[@]} -gt 0 ]; then
  echo
  echo "HTTP requests per second: GET of a $HTTP_SIZE-byte file on keep-alive connections, one CPU"
  printf '%-16s' server
  for n in "${http_counts[@]}"; do printf ' %12s' "$n conns"; done
  echo
  echo "(each the fastest of $HTTP_ROUNDS rounds, the two servers taking turns)"
  for label in http-20 nginx "20-http / nginx" "CPU us/request"; do
    printf '%-16s' "${label/http-20/20-http}"
    for n in "${http_counts[@]}"; do
      if [ "$label" = "20-http / nginx" ]; then
        cell=$(ratio "$(get "http-20,$n" 1)" "$(get "nginx,$n" 1)")
      elif [ "$label" = "CPU us/request" ]; then
        # The server's own CPU per request: what the CPU it got bought.
        cell=$(for k in http-20 nginx; do
                 awk -v r="$(get "$k,$n" 1)" -v c="$(get "$k,$n" 8)" \
                   'BEGIN { if (r > 0) printf "%.1f", c / 100 / r * 1e6; else printf "-" }'
                 [ $k = http-20 ] && printf '/'
               done)
      elif [ -z "${results[$label,$n]:-}" ]; then cell="-"
      else
        r=$(get "$label,$n" 1)
        cell=$([ -n "$r" ] && printf '%.0f' "$r" || echo failed)
      fi
      printf ' %12s' "${cell:--}"
    done
    echo
  done
  for label in http-20 nginx; do
    for n in "${http_counts[@]}"; do
      v=${results[$label,$n]:-}
      [ -n "$v" ] && [ "$v" != ERR ] || continue
      read -r rate p50 p99 mn mx starved lgcpu srv rss <<<"$v"
      printf '%-16s %12s  server %4s%% CPU %8.1f MiB  loadgen %5s s  p50 %8s us  p99 %9s us  fair %s..%s\n' \
        "${label/http-20/20-http}" "$n conns" "$srv" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
        "$lgcpu" "$p50" "$p99" "$mn" "$mx"
    done
  done
fi

echo
echo "Bar chart: messages/s at each count (# = 1/50 of the fastest at that count)"
for n in "${all_counts[@]}"; do
  max=0
  for label in "${rows[@]}"; do
    r=$(get "$label,$n" 1); r=${r%.*}
    [ -n "$r" ] && [ "$r" -gt "$max" ] && max=$r
  done
  [ "$max" -gt 0 ] || continue
  if [ "$n" = idle ]; then echo "$IDLE_BUSY busy connections beside $BIG idle ones:"
  else echo "$n connection$([ "$n" = 1 ] || echo s):"; fi
  for label in "${rows[@]}"; do
    r=$(get "$label,$n" 1); r=${r%.*}
    [ -n "$r" ] || continue
    printf '  %-16s %-50s %s\n' "$label" "$(head -c $((r * 50 / max)) /dev/zero | tr '\0' '#')" "$r"
  done
done

# CSV: one line per point.
{
  echo "design,connections,msgs_per_s,p50_us,p99_us,fewest,most,starved,loadgen_cpu_s,server_cpu_pct,server_rss_kib"
  for key in "${!results[@]}"; do
    v=${results[$key]}
    [ "$v" = ERR ] && v="failed"
    n=${key#*,}
    [ "$n" = idle ] && n="$IDLE_BUSY+${BIG}idle"
    echo "${key%,*},$n,$(tr ' ' ',' <<<"$v")"
  done | sort -t, -k1,1 -k2,2n
  echo "pingpong,1,${pingpong_rate:-failed}"
  [ -n "$redis_bench_rate" ] && echo "redis-benchmark,50,$redis_bench_rate"
} > "$CSV"

# ---- targets --------------------------------------------------------------------------------
echo
echo "Targets (ratios from this run)"
verdict() { # verdict TEXT VALUE MIN
  if [ -z "$2" ]; then printf '  %-62s %s\n' "$1" "n/a (not measured)"; return; fi
  if awk -v v="$2" -v m="$3" 'BEGIN { exit !(v >= m) }'; then
    printf '  %-62s PASS  %s (>= %s)\n' "$1" "$2" "$3"
  else
    printf '  %-62s MISS  %s (>= %s)\n' "$1" "$2" "$3"
  fi
}
verdict "epoll at 1 connection / ping-pong round trips" \
  "$(ratio "$(get 10-epoll,1 1)" "$pingpong_rate")" 0.90
verdict "epoll at 100 connections / redis-server at 100" \
  "$(ratio "$(get 10-epoll,100 1)" "$(get redis,100 1)")" 1.0
verdict "loadgen -m redis / redis-benchmark -t ping, 50 connections" \
  "$(ratio "$loadgen_redis50" "$redis_bench_rate")" 1.5
ref_threads=(0.76 0.66 0.52) ref_fork=(0.62 0.51 0.33) k=0
for n in 10 100 1000; do
  e=$(get "10-epoll,$n" 1) p=$(get "09-poll,$n" 1) t=$(get "06-threads,$n" 1) f=$(get "05-fork,$n" 1)
  if [ -n "$e" ] && [ -n "$p" ] && [ -n "$t" ] && [ -n "$f" ]; then
    ok=$(awk -v e="$e" -v p="$p" -v t="$t" -v f="$f" 'BEGIN { print (e >= p && p >= t && t >= f) ? "PASS" : "MISS" }')
    printf '  %-62s %s  epoll %s, poll %s, threads %s, fork %s\n' \
      "order at $n: epoll >= poll >= threads >= fork" "$ok" "1.00" \
      "$(ratio "$p" "$e")" "$(ratio "$t" "$e")" "$(ratio "$f" "$e")"
    for pair in "threads $t ${ref_threads[$k]}" "fork $f ${ref_fork[$k]}"; do
      read -r name v ref <<<"$pair"
      q=$(ratio "$v" "$e")
      awk -v q="$q" -v r="$ref" 'BEGIN { exit !(q < r * 0.85 || q > r * 1.15) }' &&
        printf '  %-62s note  %s/epoll %s, reference %s (outside +-15%%)\n' "" "$name" "$q" "$ref"
    done
  else
    printf '  %-62s n/a (a design is absent)\n' "order at $n: epoll >= poll >= threads >= fork"
  fi
  k=$((k + 1))
done
for d in 10-epoll 12-io-uring; do
  v=${results[$d,$BIG]:-}
  if [ "$BIG" -eq 0 ] || [ -z "$v" ] || [ "$v" = ERR ]; then
    printf '  %-62s %s\n' "$d holds $BIG connections, all answered, RSS < 32 MiB" "MISS (not measured or failed)"
    continue
  fi
  read -r rate p50 p99 mn mx starved lgcpu srv rss <<<"$v"
  mib=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
  if [ "$starved" -eq 0 ] && [ "$rss" -lt $((32 * 1024)) ]; then
    printf '  %-62s PASS  %s starved, RSS %s MiB\n' "$d holds $BIG connections, all answered, RSS < 32 MiB" "$starved" "$mib"
  else
    printf '  %-62s MISS  %s starved, RSS %s MiB\n' "$d holds $BIG connections, all answered, RSS < 32 MiB" "$starved" "$mib"
  fi
done
if [ -n "$(get 10-epoll,idle 1)" ] && [ -n "$(get 09-poll,idle 1)" ]; then
  printf '  %-62s %s\n' "with $BIG idle connections beside $IDLE_BUSY busy ones" \
    "note  epoll/poll $(ratio "$(get 10-epoll,idle 1)" "$(get 09-poll,idle 1)")"
fi
verdict "lesson 20 / nginx, HTTP GET of a small file, 100 connections" \
  "$(ratio "$(get http-20,100 1)" "$(get nginx,100 1)")" 0.8
[ -n "$redis_note" ] && echo "  note: $redis_note"
[ -n "$http_note" ] && echo "  note: $http_note"
echo
echo "CSV: $CSV; took $(( $(date +%s) - start_time )) s"

# The trace shim's cost: idle (SOCKLAB_TRACE unset) it must add under 2% to
# a 100,000-round-trip ping-pong; traced and free-running, a program is
# never blocked by a visualizer that does not read.
echo
echo "== the trace shim (bench/shim_bench.sh 100000, 3 runs each)"
RUNS=3 SOCKLAB_BUILD=$B bench/shim_bench.sh 100000

# Loading a recording: linear in its size, memory in proportion to it,
# and SIGTERM obeyed at once while it loads.
echo
echo "== loading a recording (bench/replay_bench.py)"
python3 bench/replay_bench.py "$B/socklab"

# The link between hosts (socklab --hosts): bulk and round trips through
# it against a plain veth pair between the same two hosts.
echo
echo "== the link between hosts (bench/link_bench.sh, 3 runs)"
RUNS=3 SOCKLAB_BUILD=$B bench/link_bench.sh

# TCP over time: at least 10 TCP_INFO samples a second while data flows.
echo
echo "== TCP over time (bench/tcptime.sh, 3 runs each)"
RUNS=3 SOCKLAB_BUILD=$B bench/tcptime.sh
# Grading a class: -j 2 against -j 1, 20 submissions of lesson 02, each in
# its box (bench/grade_bench.sh; results in bench/README.md).
echo
echo "== grading a class (bench/grade_bench.sh: 20 submissions, -j 1 and -j 2)"
SOCKLAB_BUILD=$B bench/grade_bench.sh 1 2
