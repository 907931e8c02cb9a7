#!/usr/bin/env bash
# Cluster figures (issue 5): publish->receive latency of a cross-node delivery
# against a single node, and delivered events/s with subscribers spread over
# three nodes, each side by side with a single node without NATS, alternating
# cluster / single for --rounds rounds. Prints medians and cluster/single
# ratios (loadgen --report). See bench/README.md.
#
#   bench/cluster.sh [--rounds 3] [--out DIR] [--duration 10] [--no-build]
#
# Starts a 3-server NATS JetStream cluster (scripts/nats-cluster.sh) and three
# Eventcast nodes on 127.0.0.1, and a single node for the baseline; stops every
# process it started, by pid, on exit. Every run is bounded by `timeout`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

rounds=3
out=
duration=10
build=1
nats_base=19222
single_port=19080
node_ports=(19081 19082 19083)

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "cluster-bench: unknown option $1" >&2; exit 2 ;;
  esac
done

out=${out:-/tmp/eventcast-cluster-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
results=$out/results.tsv
: >"$results"
say() { echo "cluster-bench: $*" | tee -a "$out/events.log"; }
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"

build_binaries "$build"

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$root/scripts/nats-cluster.sh" stop "$out/nats" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

# start_node NAME PORT [eventcast flags...]: the pid in $node_pid.
start_node() {
  local name=$1 port=$2 _
  shift 2
  cat >"$out/$name.yaml" <<YAML
server:
  host: 127.0.0.1
  port: $port
  keepalive_timeout: 1s
sse:
  heartbeat_interval: 10m
limits:
  publish_rate: 0
services:
  service_h: false
  events:
    streams: []
YAML
  "$eventcast_bin" --config "$out/$name.yaml" "$@" 2>>"$out/$name.log" &
  node_pid=$!
  pids+=("$node_pid")
  for _ in $(seq 1 200); do
    port_open "$port" && return 0
    sleep 0.05
  done
  say "$name did not start"; tail "$out/$name.log"; exit 1
}

say "starting NATS (3 servers) and the nodes; results in $out"
"$root/scripts/nats-cluster.sh" start "$out/nats" "$nats_base" >>"$out/events.log"
urls=nats://127.0.0.1:$nats_base,nats://127.0.0.1:$((nats_base + 1)),nats://127.0.0.1:$((nats_base + 2))
start_node single "$single_port"
single_pid=$node_pid
cluster_pids=()
for i in 1 2 3; do
  start_node "node$i" "${node_ports[$((i - 1))]}" --cluster "$urls" --node-name "node$i"
  cluster_pids+=("$node_pid")
done
all_nodes=$(IFS=,; echo "${cluster_pids[*]}")

# run LOAD SERVER loadgen-args...: streams are named LOAD-ROUND-SERVER-<n>.
run() {
  local load=$1 server=$2
  shift 2
  local prefix=$load-$round-$server-
  local body='{"stream_id":"'$prefix'{stream}","type":"bench","message":"m","data":{"seq":{seq},"ts":{ts_us}}}'
  echo "$load $server: loadgen $*" >>"$out/commands.txt"
  timeout 300 "$loadgen_bin" --quiet --label "$load/$server" "$@" \
    --sub-path-template "/api/v1/events/stream/$prefix{stream}" --pub-body-template "$body" \
    >"$out/$load.$server.$round.log" 2>&1 || true
  printf '%s\t%s\t%s\n' "$load" "$server" "$(tail -n 1 "$out/$load.$server.$round.log")" >>"$results"
}

nodes_csv=$(IFS=,; echo "${node_ports[*]}")
latency=(--subscribers 100 --rate 200 --events 2000)
spread=(--subscribers 300 --streams 10 --pub-connections 10 --rate 0 --duration "$duration")
for round in $(seq 1 "$rounds"); do
  say "round $round: C1 latency (100 subscribers, 200 events/s)"
  run C1 cluster --port "${node_ports[0]}" --sub-ports "${node_ports[1]}" \
    --server-pid "$all_nodes" "${latency[@]}"
  run C1 single --port "$single_port" --server-pid "$single_pid" "${latency[@]}"
  say "round $round: C2 throughput (300 subscribers, 10 streams, ${duration}s as fast as acknowledged)"
  run C2 cluster --port "${node_ports[0]}" --sub-ports "$nodes_csv" --sub-threads 3 \
    --server-pid "$all_nodes" "${spread[@]}"
  run C2 single --port "$single_port" --server-pid "$single_pid" "${spread[@]}"
done

say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$loadgen_bin" --report "$results" --markdown | tee "$out/report.md"
