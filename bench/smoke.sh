#!/usr/bin/env bash
# A tiny load against Eventcast only: 20 subscribers on one stream, 200 events
# at 200/s. Exits non-zero when an event is missing, duplicated or out of
# order, when a subscriber could not connect, when the per-event first and
# last deliveries do not bracket the median latency, or when the server does
# not stop cleanly on SIGTERM. Registered as the CTest test bench.smoke; under 15 s.
#
#   bench/smoke.sh [LOADGEN] [EVENTCAST]   (default: build/bench/...)
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
loadgen=${1:-${LOADGEN_BIN:-$root/build/bench/bench/loadgen}}
eventcast=${2:-${EVENTCAST_BIN:-$root/build/bench/app/eventcast}}
for bin in "$loadgen" "$eventcast"; do
  [ -x "$bin" ] || { echo "smoke: $bin is not an executable (build it first)"; exit 2; }
done

work=$(mktemp -d /tmp/eventcast-smoke.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/config.yaml" <<'YAML'
server:
  host: 127.0.0.1
  port: 0
services:
  service_h: false
  events:
    streams: []
YAML

"$eventcast" --config "$work/config.yaml" 2>"$work/server.log" &
server_pid=$!

port=
for _ in $(seq 1 100); do # up to 10 s for the listening line
  port=$(sed -n 's/.*listening on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$work/server.log" | head -n1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "smoke: eventcast did not start"; cat "$work/server.log"; exit 1
fi

rc=0
"$loadgen" --port "$port" --subscribers 20 --streams 1 --rate 200 --events 200 \
  --settle-ms 300 --drain-ms 2000 --drain-max-ms 5000 --ramp-timeout-ms 5000 \
  --server-pid "$server_pid" --label smoke | tee "$work/loadgen.out" || rc=1

figure() { # a number from loadgen's closing JSON line
  tail -n1 "$work/loadgen.out" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}
first=$(figure event_first_p50_us) median=$(figure lat_p50_us) last=$(figure event_last_p50_us)
if [ -z "$first" ] || [ -z "$median" ] || [ -z "$last" ] || [ "$first" -le 0 ] \
   || [ "$first" -gt "$median" ] || [ "$median" -gt "$last" ]; then
  echo "smoke: per-event deliveries ($first .. $last us) do not bracket the median latency ($median us)"
  rc=1
fi

kill -TERM "$server_pid"
status=
for _ in $(seq 1 100); do # drain_timeout is 5 s
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid"; status=$?; break
  fi
  sleep 0.1
done
if [ -z "$status" ]; then
  echo "smoke: eventcast did not stop within 10 s of SIGTERM"; rc=1
elif [ "$status" -ne 0 ]; then
  echo "smoke: eventcast exited with status $status"; tail -n 40 "$work/server.log"; rc=1
fi
server_pid=

if [ "$rc" -eq 0 ]; then
  echo "smoke: PASS"
else
  echo "smoke: FAIL"
fi
exit "$rc"
