#!/usr/bin/env bash
# Builds duo on the GPU host against its installed PyTorch (no network there). PCRE2 and
# utf8proc headers are missing on that host: scripts/gpu-host-deps.sh fetched their Debian
# packages into .deps/debs beforehand; they are unpacked into .deps/root and found through
# pkg-config. Extra arguments go to CMake's configure step; DUO_TARGETS limits what is built.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/.deps/root
if [ -d .deps/debs ] && [ ! -d "$root" ]; then
  for f in .deps/debs/*.deb; do dpkg -x "$f" "$root"; done
fi
if [ -d "$root" ]; then
  export PKG_CONFIG_PATH=$root/usr/lib/x86_64-linux-gnu/pkgconfig
  export PKG_CONFIG_SYSROOT_DIR=$root
fi
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DDUO_BUILD_TESTS=${DUO_BUILD_TESTS:-OFF} \
  -DCMAKE_PREFIX_PATH="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')" "$@"
cmake --build build-gpu -j "$(nproc)" ${DUO_TARGETS:+--target $DUO_TARGETS}
