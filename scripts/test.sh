#!/usr/bin/env bash
# Builds and runs every test twice: an optimized build (build/test, -O2, no
# debug info: it only has to compile fast and run) and an ASan+UBSan build
# (build/asan, -O1 -g for readable reports), both with warnings as errors. Unit tests and
# the Node integration tests (tests/integration) both run through CTest.
# Then runs each libFuzzer target for 10 s (scripts/fuzz.sh).
# Exits non-zero when any step fails; prints a one-line summary at the end.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=2
results=()
failed=0

step() { # step <name> <command...>
  local name=$1; shift
  echo "== $name"
  if "$@"; then
    results+=("$name: ok")
  else
    results+=("$name: FAILED")
    failed=1
    return 1
  fi
}

# ccache keeps the 10-minute budget on a 2-core machine: a clean clone
# rebuilds everything twice, mostly CAF templates that rarely change.
# Keys relative to the clone (and not hashing the build folder, which -g
# would) let a fresh clone in a new folder hit what an earlier clone cached.
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true

configure_build() { # configure_build <dir> <cmake args...>; quiet unless it fails
  local dir=$1; shift
  mkdir -p "$dir"
  local log="$dir/build.log"
  if cmake -S . -B "$dir" "${launcher[@]}" "$@" >"$log" 2>&1 && cmake --build "$dir" -j"$jobs" >>"$log" 2>&1; then
    return 0
  fi
  grep -E -A4 'error|Error|undefined reference' "$log" | head -n 80
  echo "test: build of $dir failed (full log: $dir/build.log)"
  return 1
}

step setup "$root/scripts/setup.sh" || { echo "test: setup failed"; exit 1; }

if step "build test" configure_build build/test \
     -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O2 \
     -DEVENTCAST_WERROR=ON; then
  step "ctest test" ctest --test-dir build/test --output-on-failure -j"$jobs" || true
fi

if step "build asan" configure_build build/asan \
     -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" \
     -DEVENTCAST_SANITIZE=address -DEVENTCAST_WERROR=ON; then
  step "ctest asan" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       ctest --test-dir build/asan --output-on-failure -j"$jobs" || true
fi

# Each libFuzzer target for a short, bounded time (clang build in build/fuzz).
step "fuzz" "$root/scripts/fuzz.sh" 10 || true

summary=$(IFS=';'; echo "${results[*]}")
if [ "$failed" -eq 0 ]; then
  echo "test: PASS ($summary)"
else
  echo "test: FAIL ($summary)"
fi
exit "$failed"
