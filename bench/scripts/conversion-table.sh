#!/usr/bin/env bash
# The README's conversion table for tiny-code-mha: perplexity on eval.txt of the original model,
# of partial RoPE alone (r = 4) for each strategy, and of S_2-norm + SVD_joint at d_kv 8/16/32,
# weight-only and activation-aware. Every row is `convert` then `eval` through the CLI.
#   bench/scripts/conversion-table.sh [OUT_DIR] [PART]
#   PART: all | original | fixed (S_high, S_low, S_uniform) | 2-norm (partial RoPE only)
#         | svd (d_kv 8, 16, 32) | svd8 | svd16 | svd32
# Environment: MLA4J (the CLI; default ./mla4j), SHARED (default ../shared), WINDOWS (0 = all),
# CALIB_WINDOWS (default 64), THREADS (default: all processors).
set -euo pipefail
out=${1:-conversion-table}; part=${2:-all}
cli=${MLA4J:-./mla4j}; shared=${SHARED:-../shared}
model=$shared/models/tiny-code-mha; [ -d "$model" ] || model=$shared/tiny-code-mha
data=$shared/data; [ -f "$data/eval.txt" ] || data=$shared
common=(--data "$data/eval.txt" --windows "${WINDOWS:-0}" ${THREADS:+--threads $THREADS})
calib=(--calib "$data/calib.txt" --calib-windows "${CALIB_WINDOWS:-64}" ${THREADS:+--threads $THREADS})
mkdir -p "$out"

row() { # name, eval log: append "name | ppl | nll | cache reduction" to the table
  local ppl nll red
  ppl=$(sed -n 's/^perplexity \([0-9.]*\) .*/\1/p' "$2"); nll=$(sed -n 's/.*mean NLL \([0-9.]*\) nats.*/\1/p' "$2")
  red=$(sed -n 's/.*reduction \(-\{0,1\}[0-9.]*%\).*/\1/p' "$2")
  echo "| $1 | $ppl | $nll | $red |" | tee -a "$out/table.md"
}
convert_eval() { # name, convert options...
  local name=$1; shift
  $cli convert --model "$model" --out "$out/$name" "$@" > "$out/$name.convert.log" 2>&1
  $cli eval --model "$out/$name" "${common[@]}" > "$out/$name.eval.log" 2>&1
  row "$name" "$out/$name.eval.log"
  rm -rf "${out:?}/$name"
}

if [ "$part" = all ] || [ "$part" = original ]; then
  $cli eval --model "$model" "${common[@]}" > "$out/original.eval.log" 2>&1
  row original "$out/original.eval.log"
fi
if [ "$part" = all ] || [ "$part" = fixed ]; then
  for s in high low uniform; do convert_eval "partial-rope-$s" --strategy $s --r 4 --svd none; done
fi
if [ "$part" = all ] || [ "$part" = 2-norm ]; then
  convert_eval partial-rope-2-norm --strategy 2-norm --r 4 --svd none "${calib[@]}"
fi
case $part in all|svd) dkvs="8 16 32" ;; svd8|svd16|svd32) dkvs=${part#svd} ;; *) dkvs="" ;; esac
if [ -n "$dkvs" ]; then
  for d in $dkvs; do
    convert_eval "2-norm-joint-dkv$d" --strategy 2-norm --r 4 --svd joint --d-kv $d "${calib[@]}"
    convert_eval "2-norm-joint-aware-dkv$d" --strategy 2-norm --r 4 --svd joint --d-kv $d \
      --activation-aware "${calib[@]}"
  done
fi
