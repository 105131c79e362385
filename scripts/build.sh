#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then configures and builds duo into build/.
# Extra arguments go to CMake's configure step, e.g. -DCMAKE_BUILD_TYPE=Debug.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-Release} "$@"
fi
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
