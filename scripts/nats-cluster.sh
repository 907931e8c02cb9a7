#!/usr/bin/env bash
# Starts or stops a 3-server NATS JetStream cluster on 127.0.0.1 for
# development and cluster tests.
#
#   scripts/nats-cluster.sh start DIR [BASE_PORT]   # default BASE_PORT 14222
#   scripts/nats-cluster.sh stop DIR
#
# Server i (1..3) listens for clients on BASE_PORT+i-1, for routes on
# BASE_PORT+10+i-1 and serves monitoring (/jsz) on BASE_PORT+20+i-1. DIR holds
# each server's config, log, JetStream store and pid file. `start` returns
# once JetStream has elected a meta leader and prints the client URLs;
# `stop` ends the servers by the pids it wrote, nothing else.
# nats-server and libnats-dev are installed with apt-get when missing.
set -euo pipefail

servers=(1 2 3)
wait_s=30

say() { printf 'nats-cluster: %s\n' "$*"; }
die() { printf 'nats-cluster: error: %s\n' "$*" >&2; exit 1; }
usage() { die "usage: $0 start|stop DIR [BASE_PORT]"; }

installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

ensure_installed() {
  local missing=() p sudo=()
  for p in nats-server libnats-dev; do
    installed "$p" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 \
    || die "missing ${missing[*]} and no apt-get: install them by hand"
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 \
      || die "missing ${missing[*]}: run as root or install sudo"
    sudo=(sudo)
  fi
  say "installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

nats_server_bin() {
  local bin
  bin=$(command -v nats-server 2>/dev/null || true)
  [ -z "$bin" ] && [ -x /usr/sbin/nats-server ] && bin=/usr/sbin/nats-server
  [ -n "$bin" ] || die "nats-server not found after installing it"
  printf '%s\n' "$bin"
}

client_port() { echo $((base + $1 - 1)); }
route_port() { echo $((base + 10 + $1 - 1)); }
monitor_port() { echo $((base + 20 + $1 - 1)); }

write_config() {
  local i=$1 routes="" j
  for j in "${servers[@]}"; do
    routes+="    nats-route://127.0.0.1:$(route_port "$j")"$'\n'
  done
  cat >"$dir/n$i.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:$(client_port "$i")
http: 127.0.0.1:$(monitor_port "$i")
jetstream {
  store_dir: "$dir/n$i"
}
cluster {
  name: eventcast
  listen: 127.0.0.1:$(route_port "$i")
  routes: [
$routes  ]
}
EOF
}

# A pid from our file is ours only while it still names a nats-server.
alive() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
    && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nats-server ]
}

pid_of() { cat "$dir/n$1.pid" 2>/dev/null || true; }

# GET http://127.0.0.1:PORT/jsz through bash's /dev/tcp: no curl needed.
jsz() {
  # shellcheck disable=SC2016 # $1 expands in the inner bash
  timeout 2 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET /jsz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
    cat <&3' _ "$1" 2>/dev/null || true
}

has_meta_leader() {
  jsz "$(monitor_port "$1")" | tr -d ' \n' \
    | grep -q '"meta_cluster":{[^}]*"leader":"n[0-9]'
}

stop_servers() {
  local i pid deadline
  for i in "${servers[@]}"; do
    pid=$(pid_of "$i")
    alive "$pid" && kill -TERM "$pid"
  done
  deadline=$((SECONDS + 10))
  for i in "${servers[@]}"; do
    pid=$(pid_of "$i")
    while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if alive "$pid"; then
      say "n$i (pid $pid) ignored SIGTERM; sending SIGKILL"
      kill -KILL "$pid"
    fi
    rm -f "$dir/n$i.pid"
  done
}

start_servers() {
  local bin i j pid deadline
  ensure_installed
  bin=$(nats_server_bin)
  for i in "${servers[@]}"; do
    pid=$(pid_of "$i")
    alive "$pid" && die "n$i already runs (pid $pid); stop it first"
  done
  for i in "${servers[@]}"; do
    mkdir -p "$dir/n$i"
    write_config "$i"
    nohup "$bin" -c "$dir/n$i.conf" >"$dir/n$i.log" 2>&1 &
    echo $! >"$dir/n$i.pid"
  done
  deadline=$((SECONDS + wait_s))
  for i in "${servers[@]}"; do
    until has_meta_leader "$i"; do
      for j in "${servers[@]}"; do
        alive "$(pid_of "$j")" && continue
        tail -n 20 "$dir"/n*.log >&2
        stop_servers
        die "n$j exited during start"
      done
      if [ $SECONDS -ge $deadline ]; then
        tail -n 20 "$dir"/n*.log >&2
        stop_servers
        die "no JetStream meta leader after ${wait_s}s"
      fi
      sleep 0.2
    done
  done
  local urls=()
  for i in "${servers[@]}"; do
    urls+=("nats://127.0.0.1:$(client_port "$i")")
  done
  say "up: $(IFS=,; echo "${urls[*]}")"
}

[ $# -ge 2 ] || usage
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
base=${3:-14222}
if ! [[ "$base" =~ ^[0-9]+$ ]] || [ "$base" -lt 1024 ] \
   || [ "$base" -gt 65500 ]; then
  die "BASE_PORT must be a number in 1024..65500"
fi

case "$cmd" in
  start) start_servers ;;
  stop) stop_servers; say "stopped" ;;
  *) usage ;;
esac
