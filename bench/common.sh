# Sourced by compare.sh and cluster.sh: the Release binaries both run, and a
# port probe. Expects $root, $out and say().

# build_binaries BUILD: builds eventcast and loadgen in $root/build/bench when
# BUILD is 1; sets eventcast_bin and loadgen_bin.
build_binaries() {
  local bindir=$root/build/bench
  if [ "$1" -eq 1 ]; then
    say "building Release binaries in $bindir"
    cmake -S "$root" -B "$bindir" -DCMAKE_BUILD_TYPE=Release -DEVENTCAST_BUILD_TESTS=OFF >"$out/build.log" 2>&1
    cmake --build "$bindir" -j2 --target eventcast loadgen >>"$out/build.log" 2>&1 \
      || { tail -n 40 "$out/build.log"; exit 1; }
  fi
  eventcast_bin=$bindir/app/eventcast
  loadgen_bin=$bindir/bench/loadgen
  [ -x "$eventcast_bin" ] && [ -x "$loadgen_bin" ] \
    || { say "binaries missing in $bindir"; exit 1; }
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
