#!/usr/bin/env bash
# Builds a Release server and runs it: ./scripts/run.sh [server flags...]
# With no flags the server listens on 0.0.0.0:8080.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

"$root/scripts/setup.sh"

build=build/release
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "run: building $build (Release)"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEVENTCAST_BUILD_TESTS=OFF >"$log" 2>&1; then
  tail -n 40 "$log" >&2; echo "run: error: cmake configure failed" >&2; exit 1
fi
if ! cmake --build "$build" -j2 >"$log" 2>&1; then
  grep -E 'error|Error' "$log" | head -n 40 >&2
  echo "run: error: build failed (full log: cmake --build $build)" >&2; exit 1
fi
rm -f "$log"; trap - EXIT

exec "$build/app/eventcast" "$@"
