#!/usr/bin/env bash
# Runs in a bundle made by ./mla4j gpu-bundle, on a GPU host: the gpu-tagged tests with the
# fatbins, optionally again through NVRTC, then the quantized decode sweep. Needs only the NVIDIA
# driver; uses the bundle's JDK 25 runtime unless JAVA points at a java 25.
#   usage: bash gpu-check.sh OUTDIR     (OUTDIR defaults to $OUT, else ./gpu-check-out)
#   env: NVRTC=1 adds the NVRTC pass; TESTONLY=1 / SWEEPONLY=1 run one half; REPS (sweeps, 1);
#        SWEEP (CudaDecodeBench mode: quant, quick, one, prefill or empty for all; quant);
#        TEST_S / SWEEP_S (time limits per step in seconds: 240 / 120)
# Writes tests.log, nvrtc.log, decode-R.csv, sweep-R.log and gpu.txt (nvidia-smi) to OUTDIR;
# exits non-zero when a test failed or a step did not finish.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${OUT:-gpu-check-out}}
mkdir -p "$out"
java=${JAVA:-}
if [ -z "$java" ]; then
  rt=${TMPDIR:-/tmp}/mla4j-jre
  [ -x "$rt/jre/bin/java" ] || { mkdir -p "$rt" && tar xzf "$here/jre.tgz" -C "$rt"; }
  java=$rt/jre/bin/java
fi
flags="--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m"
cp="$here/kernels.jar:$here/test-classes:$(ls "$here"/deps/*.jar | tr '\n' ':')"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
  --format=csv > "$out/gpu.txt" 2>&1 || echo "nvidia-smi failed (see gpu.txt)"
cat "$out/gpu.txt"
status=0

tests() {  # LOG SELECTOR... [-- JVM properties...]
  local log=$1; shift
  local sel=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sel+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  local t0=$SECONDS rc
  timeout "${TEST_S:-240}" "$java" $flags "$@" -jar "$here/junit.jar" execute --class-path "$cp" \
    "${sel[@]}" --include-tag gpu --disable-banner --disable-ansi-colors --details=tree \
    > "$out/$log" 2>&1
  rc=$?
  echo "$log: exit $rc after $((SECONDS - t0)) s"
  grep -E "tests (found|successful|skipped|aborted|failed)" "$out/$log"
  grep -E "✘" "$out/$log" | head -20
  [ $rc = 0 ] || status=1
  # without a GPU every test class is skipped, which the launcher counts as success
  if grep -q "no usable GPU" "$out/$log"; then
    echo "gpu-check: $(grep -o 'no usable GPU.*' "$out/$log" | head -1)"
    status=1
  fi
}

if [ -z "${SWEEPONLY:-}" ]; then
  tests tests.log --scan-class-path "$here/test-classes"
  if [ -n "${NVRTC:-}" ]; then
    tests nvrtc.log --select-class dev.mla4j.cuda.CudaBackendTest \
      --select-class dev.mla4j.conformance.CudaQuantizedAttentionTest -- -Dmla4j.cuda.nvrtc=true
  fi
fi
if [ -z "${TESTONLY:-}" ]; then
  for r in $(seq 1 "${REPS:-1}"); do
    timeout "${SWEEP_S:-120}" "$java" $flags -cp "$here/benchmarks.jar" \
      dev.mla4j.bench.CudaDecodeBench "$out/decode-$r.csv" ${SWEEP-quant} > "$out/sweep-$r.log" 2>&1
    rc=$?
    echo "sweep $r: exit $rc"
    [ $rc = 0 ] || { status=1; tail -5 "$out/sweep-$r.log"; }
  done
fi
exit $status
