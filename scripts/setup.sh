#!/usr/bin/env bash
# Installs what Eventcast needs to build and test, and nothing more.
# Idempotent: packages already present are left alone, apt-get update runs
# only when something must be installed, and npm runs only when
# tests/integration/node_modules is missing or older than its package.json.
# Meant for a bare Debian 12, run as root (or via sudo when that exists).
# Arguments name extra Debian packages to install the same way
# (scripts/fuzz.sh passes clang's).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- system packages -------------------------------------------------------
packages=(build-essential cmake pkg-config git libcaf-dev libpistache-dev
          rapidjson-dev libyaml-cpp-dev libgtest-dev libgmock-dev
          nats-server libnats-dev ccache "$@")

# Debian's nodejs 18 is enough; a node >= 18 with npm already on PATH (e.g.
# from NodeSource) is kept, since Debian's npm package would conflict with it.
node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || return 1
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || return 1
  [ "${major:-0}" -ge 18 ]
}
node_ok || packages+=(nodejs npm)

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 \
    || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 \
      || die "missing packages (${missing[*]}): run as root or install sudo"
    sudo=(sudo)
  fi
  say "installing ${missing[*]}"
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1; then
    cat "$log" >&2; die "apt-get update failed"
  fi
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
       apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    tail -n 30 "$log" >&2; die "apt-get install ${missing[*]} failed"
  fi
fi

node_ok || die "node >= 18 and npm are still not on PATH after installing nodejs/npm"

# --- integration test dependencies ----------------------------------------
it="$root/tests/integration"
if [ -f "$it/package.json" ]; then
  if [ ! -d "$it/node_modules" ] || [ "$it/package.json" -nt "$it/node_modules" ] \
     || { [ -f "$it/package-lock.json" ] && [ "$it/package-lock.json" -nt "$it/node_modules" ]; }; then
    if [ -f "$it/package-lock.json" ]; then cmd=(npm ci); else cmd=(npm install); fi
    say "${cmd[*]} in tests/integration"
    if ! out=$(cd "$it" && "${cmd[@]}" --no-audit --no-fund --loglevel=error 2>&1); then
      printf '%s\n' "$out" >&2; die "${cmd[*]} failed in tests/integration"
    fi
    touch "$it/node_modules"
  fi
fi

say "ok"
