#!/usr/bin/env bash
# Installs everything duo needs on a fresh Debian 12 machine, then exits.
#   - Debian development packages (compiler, CMake, HDF5, yaml-cpp, CLI11, ...; clang and its
#     libFuzzer/sanitizer runtimes for scripts/fuzz.sh)
#   - a virtual environment in .venv holding the PyPI torch wheel (its libtorch is what
#     CMake links against) and the Python packages the tests use as independent references.
# A second run checks a stamp and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  python3 python3-venv python3-dev
  libhdf5-dev libyaml-cpp-dev libcli11-dev libgtest-dev nlohmann-json3-dev
  libpcre2-dev libutf8proc-dev
  libplplot-dev plplot-driver-cairo
  bible-kjv-text
  clang libclang-rt-14-dev
)
# Pinned to the GPU host's PyTorch so both hosts build against the same libtorch.
PY_PACKAGES=(
  torch==2.11.0
  "transformers>=5,<6" "tokenizers>=0.22" safetensors numpy h5py
)

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
stamp=.venv/.duo-setup-stamp
want="$(printf '%s\n' "${APT_PACKAGES[@]}" "${PY_PACKAGES[@]}" | sha1sum | cut -c1-12)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's own interpreter: its venv module is installed above and its ABI matches the wheels.
PY=/usr/bin/python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
echo "setup: installing Python packages into .venv (torch is large; the first run downloads it)"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "${PY_PACKAGES[@]}"
echo "$want" > "$stamp"
echo "setup: done"
