#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, docs/fuzzing.md) with clang, ASan and UBSan into
# build-fuzz/ and runs one of them, e.g.
#   scripts/fuzz.sh pattern_json -runs=1000000
#   scripts/fuzz.sh list
# Extra arguments go to libFuzzer. New inputs go to build-fuzz/corpus/<target>/ (the seeds in
# fuzz/corpus/ are only read), crashes to build-fuzz/artifacts/; a crash's input belongs in
# fuzz/regressions/<target>/ once the parser is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
target=${1:?usage: scripts/fuzz.sh <target>|list [libFuzzer arguments]}
shift
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DDUO_FUZZ=ON -DDUO_BUILD_TESTS=OFF -DDUO_CUDA=OFF
fi
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target duo-fuzz
if [ "$target" = list ]; then
  ls fuzz/corpus
  exit 0
fi
[ -x "$BUILD_DIR/bin/fuzz-$target" ] || { echo "fuzz: no target $target (scripts/fuzz.sh list)" >&2; exit 1; }
mkdir -p "$BUILD_DIR/corpus/$target" "$BUILD_DIR/artifacts"
args=(-artifact_prefix="$BUILD_DIR/artifacts/$target-")
[ -f "fuzz/dict/$target.dict" ] && args+=(-dict="fuzz/dict/$target.dict")
# libhdf5 (1.10.8 in Debian 12) leaks a cache entry on some damaged files, which is not ours to
# fix: no leak checks, neither per input nor (in -fork mode) when a job exits.
if [ "$target" = gate_history ]; then
  args+=(-detect_leaks=0)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
fi
# Targets that read a path write each input to a file: memory, not the disk, where there is one.
[ -d /dev/shm ] && export TMPDIR=${TMPDIR:-/dev/shm}
exec "$BUILD_DIR/bin/fuzz-$target" "${args[@]}" "$@" "$BUILD_DIR/corpus/$target" "fuzz/corpus/$target"
