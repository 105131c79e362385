#!/usr/bin/env bash
# The demo, end to end on the CPU: set up and build (scripts/build.sh), train the gates of the
# built-in tiny model (models/tiny, pretrained so that it really retrieves), then summarise the run, plot it, turn the gates into a deployable
# pattern (duo's own format and the reference format kvpress reads) and sweep sparsity.
# OUT=DIR puts the results elsewhere (default runs/demo; an earlier demo there is replaced).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
bin=${BUILD_DIR:-build}/bin
out=${OUT:-runs/demo}
rm -rf "$out"

echo "== duo-train: gate optimization (configs/tiny.yaml)"
"$bin/duo-train" --config configs/tiny.yaml --out "$out"
echo
echo "== duo-analyze summary"
"$bin/duo-analyze" summary "$out/history.h5"
echo
echo "== duo-analyze plot"
"$bin/duo-analyze" plot "$out/history.h5" --out "$out/plots"
echo
echo "== duo-analyze pattern / export at 50% sparsity"
"$bin/duo-analyze" pattern "$out/history.h5" --sparsity 0.5 --out "$out/pattern.json"
"$bin/duo-analyze" export "$out/history.h5" --sparsity 0.5 --format reference --out "$out/pattern-reference"
echo
echo "== duo-analyze sweep: the model run with each sparsity's pattern (mixed KV cache)"
"$bin/duo-analyze" sweep --model models/tiny --gates "$out/history.h5" --out "$out/sweep" \
  --sparsities 0,0.5,1 --lengths 1024,2048 --depths 0.25,0.75 --random-seeds 3 --sink 64 --recent 256 \
  --dtype fp32
echo
echo "Demo done. Results in $out:"
echo "  history   $out/history.h5   (gate history; docs/history-schema.md)"
echo "  plots     $(ls "$out"/plots/*.png 2>/dev/null | tr '\n' ' ')"
echo "  pattern   $out/pattern.json  and  $out/pattern-reference/ (full_attention_heads.tsv + config.json)"
echo "  sweep     $out/sweep/results.csv  and  $out/sweep/*.png"
