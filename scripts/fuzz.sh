#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang and runs each one for a
# bounded time, starting from the seed corpora in fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh [SECONDS [TARGET...]]
#
# SECONDS per target, default 20. TARGETs default to all four: fuzz_broadcast
# fuzz_route fuzz_sse fuzz_config. Builds in build/fuzz (-DEVENTCAST_FUZZ=ON,
# clang++, ASan+UBSan); each run works on a copy of its corpus in a temp dir
# under ${TMPDIR:-/tmp}, so the repository stays clean. The temp dir is
# removed when every target passes (FUZZ_KEEP=1 keeps it) and kept when one
# fails. Exits non-zero when a target crashes, times out, runs out of memory
# or breaks an invariant, and prints where the crash input is and how to
# reproduce it. FUZZ_ARGS adds libFuzzer flags; FUZZ_CXX picks the compiler.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf 'fuzz: %s\n' "$*"; }
die() { printf 'fuzz: error: %s\n' "$*" >&2; exit 2; }

seconds=${1:-20}
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive integer, got '$seconds'"
shift $(( $# > 0 ? 1 : 0 ))
all_targets=(fuzz_broadcast fuzz_route fuzz_sse fuzz_config)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || die "unknown target '$t' (one of: ${all_targets[*]})"
done
jobs=${FUZZ_JOBS:-2}
build=${FUZZ_BUILD_DIR:-$root/build/fuzz}

# --- packages: the project's, plus clang with libFuzzer
"$root/scripts/setup.sh" clang libclang-rt-14-dev >/dev/null || die "setup failed"

cxx=${FUZZ_CXX:-}
if [ -z "$cxx" ]; then
  for c in clang++-14 clang++; do
    if command -v "$c" >/dev/null 2>&1; then cxx=$(command -v "$c"); break; fi
  done
fi
[ -n "$cxx" ] || die "clang++ not found"

# --- build ------------------------------------------------------------------
# Configure only when needed, so that two runs (different targets) can share
# the build directory once it exists; cmake --build re-runs cmake itself
# when a CMakeLists.txt changes.
if ! grep -qs '^EVENTCAST_FUZZ:BOOL=ON$' "$build/CMakeCache.txt"; then
  say "configuring $build with $cxx"
  launcher=()
  command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" "${launcher[@]}" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVENTCAST_FUZZ=ON \
        -DEVENTCAST_BUILD_TESTS=OFF >/dev/null \
    || die "cmake configure failed"
fi
say "building ${targets[*]}"
cmake --build "$build" -j"$jobs" --target "${targets[@]}" >/dev/null \
  || { cmake --build "$build" -j1 --target "${targets[@]}" 2>&1 | tail -n 40 >&2
       die "build failed"; }

# --- run --------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/eventcast-fuzz.XXXXXX")
say "$seconds s per target, work dir $work"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
summary=()
for t in "${targets[@]}"; do
  dir="$work/$t"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  if [ -d "$root/fuzz/corpus/$t" ]; then
    cp -R "$root/fuzz/corpus/$t/." "$dir/corpus/"
  fi
  args=(-max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/")
  [ -f "$root/fuzz/dict/$t.dict" ] && args+=(-dict="$root/fuzz/dict/$t.dict")
  # FUZZ_ARGS: extra libFuzzer flags, e.g. "-jobs=2" or "-fork=1 -ignore_timeouts=1".
  read -r -a extra <<<"${FUZZ_ARGS:-}"
  args+=("${extra[@]}")
  say "running $t"
  # The outer timeout only guards against a fuzzer that stops checking its
  # clock; -max_total_time ends a healthy run.
  timeout -k 10 $(( seconds + 120 )) "$build/fuzz/$t" "${args[@]}" "$dir/corpus" \
    >"$dir/log" 2>&1
  rc=$?
  last=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")  # fork mode
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$last")
  line="$t: execs ${execs:-?} cov ${cov:-?} ft ${ft:-?} corpus ${corp:-?}"
  artifacts=$(find "$dir/artifacts" -type f | sort)
  if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
    failed=1
    summary+=("$line: FAILED (exit $rc)")
    echo "---- $t: last lines of $dir/log" >&2
    tail -n 40 "$dir/log" >&2
    if [ -n "$artifacts" ]; then
      count=$(wc -l <<<"$artifacts")
      while IFS= read -r a; do
        say "$t: crash input: $a"
        say "  reproduce: $build/fuzz/$t -rss_limit_mb=2048 -timeout=5 $a"
      done < <(head -n 5 <<<"$artifacts")
      [ "$count" -le 5 ] || say "$t: ... $((count - 5)) more in $dir/artifacts"
    else
      say "$t: exited $rc without a crash input; full log: $dir/log"
    fi
  else
    summary+=("$line: ok")
  fi
done

for s in "${summary[@]}"; do say "$s"; done
if [ "$failed" -eq 0 ]; then
  if [ "${FUZZ_KEEP:-0}" = 1 ]; then say "work dir kept: $work"; else rm -rf "$work"; fi
  say "PASS"
else
  say "FAIL (logs and crash inputs kept in $work)"
fi
exit "$failed"
