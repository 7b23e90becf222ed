#!/usr/bin/env bash
# The README's quantized-cache table for tiny-code-mha: held-out perplexity on all of eval.txt
# with BF16, int8, int4 and fp8 latent caches (group 64) at d_kv 8, 16, 32, converted with the
# activation-aware SVD_joint with Σ in the up factor and with √Σ on both factors (int4, fp8).
# Conversions run side by side, then the eighteen evals, each single-threaded.
#   bench/scripts/quantized-table.sh [OUT_DIR]
# Environment: MLA4J (the CLI; default ./mla4j), SHARED (default ../shared).
set -uo pipefail
out=${1:-quantized-table}; cli=${MLA4J:-./mla4j}; shared=${SHARED:-../shared}
model=$shared/models/tiny-code-mha; [ -d "$model" ] || model=$shared/tiny-code-mha
data=$shared/data; [ -f "$data/eval.txt" ] || data=$shared
mkdir -p "$out"
for d in 8 16 32; do for s in up sqrt; do
  $cli convert --model "$model" --out "$out/m-$d-$s" --strategy 2-norm --r 4 --svd joint \
    --d-kv $d --sigma $s --activation-aware --calib "$data/calib.txt" --calib-windows 64 \
    --threads 2 > "$out/convert-$d-$s.log" 2>&1 &
done; done; wait
for d in 8 16 32; do
  for c in BF16 INT8 INT4 FP8; do
    $cli eval --model "$out/m-$d-up" --data "$data/eval.txt" --cache $c --group-size 64 \
      --threads 1 > "$out/eval-$d-up-$c.log" 2>&1 &
  done
  for c in INT4 FP8; do
    $cli eval --model "$out/m-$d-sqrt" --data "$data/eval.txt" --cache $c --group-size 64 \
      --threads 1 > "$out/eval-$d-sqrt-$c.log" 2>&1 &
  done
done; wait
for f in "$out"/eval-*.log; do
  echo "$(basename "$f" .log): $(grep -a '^perplexity' "$f") | $(grep -a 'KV cache' "$f")"
done | tee "$out/table.txt"
rm -rf "${out:?}"/m-*
