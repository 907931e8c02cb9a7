#!/usr/bin/env bash
# Runs the same SSE loads against Eventcast and Nchan (nginx + libnginx-mod-nchan)
# in alternation, A B A B ..., and prints the median of every figure per server
# and the Eventcast/Nchan ratio. See bench/README.md.
#
#   bench/compare.sh [--rounds 3] [--loads L1,L2,L3,L4,L5] [--out DIR]
#                    [--l2-duration 10] [--l3-duration 10] [--l5-duration 10]
#                    [--eventcast-port 18080] [--nchan-port 18090] [--no-build]
#                    [--policy disconnect|drop_oldest]
#
# Loads: L1-L5 of the benchmark issue, plus L2-9k and L5-9k (L2 and L5 with
# 9,000 subscribers, under Eventcast's connection ceiling at 20,000
# descriptors) and L5-4k (L5's 1,000 streams at a steady 4,000 publishes/s:
# latency when neither server is saturated). Each load runs eventcast then
# nchan, --rounds times.
# --policy sets Eventcast's slow-subscriber policy (sse.overflow_policy);
# the checks (no duplicate, gap or reorder) must hold under both.
#
# Installs nginx and libnginx-mod-nchan with apt-get when missing (as root; the
# package's own service is kept from starting, or stopped if it did start),
# builds the Release binaries in build/bench, starts each server fresh on
# 127.0.0.1 for every run and stops it (by its pid) afterwards. Every load stops
# by itself; every run is bounded by `timeout`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

rounds=3
loads=L1,L2,L3,L4,L5
out=
l2_duration=10
l3_duration=10
l5_duration=10
ec_port=18080
nchan_port=18090
build=1
policy=disconnect

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --loads) loads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --l2-duration) l2_duration=$2; shift 2 ;;
    --l3-duration) l3_duration=$2; shift 2 ;;
    --l5-duration) l5_duration=$2; shift 2 ;;
    --eventcast-port) ec_port=$2; shift 2 ;;
    --nchan-port) nchan_port=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --policy) policy=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "compare: unknown option $1" >&2; exit 2 ;;
  esac
done

case "$policy" in
  disconnect|drop_oldest) ;;
  *) echo "compare: --policy is disconnect or drop_oldest, not $policy" >&2; exit 2 ;;
esac

out=${out:-/tmp/eventcast-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
results=$out/results.tsv
commands=$out/commands.txt
events=$out/events.log
: >"$results"
: >"$commands"
: >"$events"

say() { echo "compare: $*" | tee -a "$events"; }
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"

# -- Nchan -----------------------------------------------------------------------

nchan_module() {
  local m
  for m in /usr/lib/nginx/modules/ngx_nchan_module.so \
           /usr/share/nginx/modules/ngx_nchan_module.so; do
    [ -f "$m" ] && { echo "$m"; return 0; }
  done
  # The package's snippet names it relative to nginx's prefix.
  m=$(sed -n 's/^load_module \(.*\);/\1/p' \
        /usr/share/nginx/modules-available/mod-nchan.conf 2>/dev/null | head -n1)
  if [ -n "$m" ]; then
    case "$m" in /*) ;; *) m=/usr/share/nginx/$m ;; esac
    [ -f "$m" ] && { readlink -f "$m"; return 0; }
  fi
  return 1
}

ensure_nchan() {
  if command -v nginx >/dev/null && nchan_module >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "compare: nginx + libnginx-mod-nchan are missing; run as root to install them" >&2
    exit 1
  fi
  local had_nginx=0 made_policy=0
  command -v nginx >/dev/null && had_nginx=1
  # Keep the package from starting its default site on port 80.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  say "installing nginx libnginx-mod-nchan"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-nchan >/dev/null
  [ "$made_policy" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ "$had_nginx" -eq 0 ]; then
    # If the package's service started anyway, stop and disable it: only this
    # one, which we just installed.
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl stop nginx 2>/dev/null || true
      systemctl disable nginx 2>/dev/null || true
    fi
    if [ -s /run/nginx.pid ]; then
      local pid
      pid=$(cat /run/nginx.pid)
      if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nginx ]; then
        kill -QUIT "$pid" 2>/dev/null || true
      fi
    fi
  fi
  nchan_module >/dev/null || { echo "compare: the nchan module was not found" >&2; exit 1; }
}

# -- build ----------------------------------------------------------------------

build_binaries "$build"
ensure_nchan
module=$(nchan_module)

# Both servers and the client get this machine's cap (20,000).
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 20000 ]; then hard=20000; fi
ulimit -n "$hard"

# -- servers ----------------------------------------------------------------------

server_pid=     # the process we started (Eventcast, or nginx's master)
server_pids=    # what loadgen samples (nginx: master and workers)


wait_port() { # wait_port PORT PID
  local _
  for _ in $(seq 1 200); do
    port_open "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

start_eventcast() {
  cat >"$out/eventcast.yaml" <<YAML
app:
  debug: false
  # One CAF worker: the Pistache reactor and the output thread take the
  # other core's worth. L5, six alternating pairs: 1 worker 98-114k events/s
  # (median 110k), 2 workers 91-119k (median 100k); L1 and L2 the same.
  scheduler_threads: 1
server:
  host: 127.0.0.1
  port: $ec_port
  reactor_threads: 1
  # Pistache keeps its own descriptor of a stream's connection until the
  # keep-alive timeout passes (checked every 500 ms): at 2,000 new
  # subscribers a second, 1 s holds ~3,000 extra descriptors, 5 s would
  # hold 10,000. Longer than any publish round trip, so publishers keep
  # their connections.
  keepalive_timeout: 1s
sse:
  heartbeat_interval: 10m      # long: no heartbeat traffic in the window
  overflow_policy: $policy
streams:
  max_streams: 10000
limits:
  max_connections: 20000
  publish_rate: 0
services:
  service_h: false
  events:                      # the default mount, without its generators
    streams: []
YAML
  "$eventcast_bin" --config "$out/eventcast.yaml" 2>>"$out/eventcast.log" &
  server_pid=$!
  server_pids=$server_pid
  wait_port "$ec_port" "$server_pid" || { say "eventcast did not start"; tail "$out/eventcast.log"; return 1; }
}

start_nchan() {
  local dir=$out/nchan
  rm -rf "$dir"
  mkdir -p "$dir"
  sed -e "s#@MODULE@#$module#" -e "s#@PORT@#$nchan_port#" -e "s#@DIR@#$dir#g" \
    "$root/bench/nchan.conf.template" >"$dir/nchan.conf"
  nginx -p "$dir" -c "$dir/nchan.conf" -e "$dir/startup.log" -g 'daemon off;' &
  server_pid=$!
  wait_port "$nchan_port" "$server_pid" || { say "nginx did not start"; cat "$dir/startup.log" "$dir/error.log" 2>/dev/null; return 1; }
  local workers _
  for _ in $(seq 1 100); do
    workers=$(pgrep -P "$server_pid" | paste -sd, -)
    [ "$(echo "$workers" | tr ',' '\n' | grep -c .)" -ge 2 ] && break
    sleep 0.05
  done
  server_pids=$server_pid${workers:+,$workers}
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    local _
    for _ in $(seq 1 200); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      say "server $server_pid did not stop in 10 s; killing it"
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  server_pids=
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# -- loads ----------------------------------------------------------------------

ec_body='{"stream_id":"bench-{stream}","type":"bench","message":"m","data":{"seq":{seq},"ts":{ts_us}}}'
# Nchan sends the raw body: one as long as Eventcast's EventData line.
nchan_body='{"id":"evt_{ts_us}_{seq}","type":"bench","message":"m","data":{"seq":{seq},"ts":{ts_us}},"timestamp":{ts_s},"stream_id":"bench-{stream}"}'

server_args() { # server_args eventcast|nchan
  if [ "$1" = eventcast ]; then
    printf '%s\n' --port "$ec_port" \
      --sub-path-template '/api/v1/events/stream/bench-{stream}' \
      --pub-path-template '/api/v1/events/broadcast' \
      --pub-body-template "$ec_body"
  else
    printf '%s\n' --port "$nchan_port" \
      --sub-path-template '/sub/bench-{stream}' \
      --pub-path-template '/pub/bench-{stream}' \
      --pub-body-template "$nchan_body"
  fi
}

load_args() { # load_args L1..L5
  case "$1" in
    L1) printf '%s\n' --subscribers 1000 --streams 1 --rate 200 --events 2000 ;;
    L2) printf '%s\n' --subscribers 10000 --streams 1 --rate 0 --duration "$l2_duration" --settle-ms 2000 ;;
    L3) printf '%s\n' --subscribers 100 --streams 1 --rate 0 --duration "$l3_duration" ;;
    L4) printf '%s\n' --subscribers 19000 --streams 1 --idle --hold-ms 3000 --settle-ms 2000 ;;
    L5) printf '%s\n' --subscribers 10000 --streams 1000 --rate 0 --duration "$l5_duration" --pub-connections 4 --settle-ms 2000 ;;
    # L2 and L5 with 9,000 subscribers: under Eventcast's ~9,990 connection
    # ceiling at 20,000 descriptors (two per SSE connection), see README.
    L2-9k) printf '%s\n' --subscribers 9000 --streams 1 --rate 0 --duration "$l2_duration" --settle-ms 2000 ;;
    L5-9k) printf '%s\n' --subscribers 9000 --streams 1000 --rate 0 --duration "$l5_duration" --pub-connections 4 --settle-ms 2000 ;;
    L5-4k) printf '%s\n' --subscribers 10000 --streams 1000 --rate 4000 --duration "$l5_duration" --pub-connections 4 --settle-ms 2000 ;;
    *) echo "compare: unknown load $1" >&2; exit 2 ;;
  esac
}

quote_args() { # shell-quotes each argument that needs it, with single quotes
  local a q="'"
  for a in "$@"; do
    case "$a" in
      *[!A-Za-z0-9_./:,=+-]*|'') printf " '%s'" "${a//$q/$q\\$q$q}" ;;
      *) printf ' %s' "$a" ;;
    esac
  done
}

run_one() { # run_one LOAD SERVER ROUND
  local load=$1 server=$2 round=$3
  local log=$out/$load.$server.$round.log
  if [ "$server" = eventcast ]; then start_eventcast; else start_nchan; fi || return 0
  local args=()
  mapfile -t args < <(server_args "$server"; load_args "$load")
  args+=(--ramp-per-sec 2000 --server-pid "$server_pids" --label "$load $server round $round")
  { printf '%s' "$loadgen_bin"; quote_args "${args[@]}"; printf '\n'; } >>"$commands"
  echo "== $load $server round $round ($(uptime | sed 's/.*load average/load average/'))" | tee -a "$events"
  timeout 300 "$loadgen_bin" "${args[@]}" >"$log" 2>&1 || true
  grep -E '^(subscribers|publishes|delivered|checks|latency|idle|server|client|limit)' "$log" | sed 's/^/   /'
  local json
  json=$(tail -n 1 "$log")
  case "$json" in
    '{'*) printf '%s\t%s\t%s\n' "$load" "$server" "$json" >>"$results" ;;
    *) say "$load $server round $round: no result (see $log)" ;;
  esac
  if [ "$server" = nchan ] && grep -q "exited on signal" "$out/nchan/error.log" 2>/dev/null; then
    say "$load $server round $round: an nginx worker crashed (see $out/nchan/error.log)"
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    say "$load $server round $round: THE SERVER DIED during the run"
    wait "$server_pid" 2>/dev/null; say "exit status $?"
    server_pid=
  fi
  stop_server
  sleep 1 # let the closed sockets go
}

say "output in $out; uptime at start: $(uptime)"
say "$(nproc) CPUs; descriptor limit $(ulimit -n); loads $loads; $rounds rounds; policy $policy"
IFS=, read -r -a load_list <<<"$loads"
for load in "${load_list[@]}"; do
  for round in $(seq 1 "$rounds"); do
    run_one "$load" eventcast "$round"
    run_one "$load" nchan "$round"
  done
done
say "uptime at end: $(uptime)"

"$loadgen_bin" --report "$results" | tee "$out/report.txt"
"$loadgen_bin" --report "$results" --markdown >"$out/report.md"
say "tables: $out/report.txt, $out/report.md; commands: $commands; raw: $results"
