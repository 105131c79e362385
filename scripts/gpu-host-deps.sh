#!/usr/bin/env bash
# Run on a Debian machine with network access: downloads the Debian packages the GPU host lacks
# (PCRE2 and utf8proc headers and libraries, for the tokenizer) into .deps/debs, so that they
# can be carried to a GPU host without network and unpacked there by scripts/gpu-build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps/debs
cd .deps/debs
apt-get download libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2
ls -1
