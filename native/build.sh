#!/usr/bin/env bash
# Builds native/*.cu into one fatbin per file under $1 (default native/build), SASS for sm_80,
# sm_89, sm_90 plus compute_90 PTX; mla_wgmma.cu (Hopper wgmma) for sm_90a only. Exits 0 with one
# line when nvcc is absent, so the Maven build (and CI) succeeds without CUDA; the jar then
# carries the sources for NVRTC instead.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build}
if ! command -v nvcc >/dev/null 2>&1; then
  echo "native/build.sh: nvcc not on PATH, no fatbin built (NVRTC compiles the sources at run time)"
  exit 0
fi
mkdir -p "$out"
gencode=(-gencode arch=compute_80,code=sm_80 -gencode arch=compute_89,code=sm_89
         -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
pids=()
for cu in "$here"/*.cu; do
  name=$(basename "$cu" .cu)
  # newer sources only: an unchanged tree costs nothing on the next build
  fresh=1
  for dep in "$cu" "$here"/*.h; do
    [ "$out/$name.fatbin" -nt "$dep" ] || fresh=0
  done
  if [ $fresh = 1 ]; then
    continue
  fi
  arch=("${gencode[@]}")
  if [ "${name#mla_wgmma}" != "$name" ]; then
    arch=(-gencode arch=compute_90a,code=sm_90a -gencode arch=compute_90a,code=compute_90a)
  fi
  nvcc -fatbin -O3 -std=c++17 "${arch[@]}" -Xptxas -warn-spills -o "$out/$name.fatbin" "$cu" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "native/build.sh: fatbins in $out"
