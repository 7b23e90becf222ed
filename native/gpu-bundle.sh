#!/usr/bin/env bash
# Packs what checking the CUDA kernels on a GPU host needs, for a host with the NVIDIA driver but
# no JDK or Maven: a jlink'd JDK 25 runtime (jre.tgz), the kernels jar with its test classes and
# dependencies, the JUnit console launcher, the JMH benchmarks jar and gpu-check.sh to run them.
#   usage (through the launcher, which builds first): ./mla4j gpu-bundle DIR
# Then on the host: bash DIR/gpu-check.sh OUTDIR   (see its header).
set -euo pipefail
out=${1:?usage: gpu-bundle.sh DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
jdk=${JAVA_HOME:?JAVA_HOME must point at a JDK 25 with jlink}
[ -x "$jdk/bin/jlink" ] || { echo "gpu-bundle: $jdk has no jlink" >&2; exit 1; }
kernels=$(ls "$root"/kernels/target/mla4j-kernels-*.jar | grep -v -e tests -e sources | head -1)
for f in "$kernels" "$root/kernels/target/test-classes" "$root/bench/target/benchmarks.jar" \
    "$root/kernels/target/gpu-deps"; do
  [ -e "$f" ] || {
    echo "gpu-bundle: $f missing (build first: ./mla4j gpu-bundle DIR)" >&2
    exit 1
  }
done
# A fresh folder next to the target, moved into place at the end: an existing DIR is replaced
# only once the new bundle is complete.
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$(dirname "$out")/.gpu-bundle.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mods=java.base,jdk.incubator.vector,java.management,jdk.management,jdk.unsupported,java.logging
mods=$mods,java.xml,java.naming,jdk.zipfs
"$jdk/bin/jlink" --add-modules "$mods" --strip-debug --no-man-pages --no-header-files \
  --compress=zip-9 --output "$tmp/jre" 2>&1 | grep -v 'incubator modules' || true
tar czf "$tmp/jre.tgz" -C "$tmp" jre
rm -rf "$tmp/jre"
cp "$kernels" "$tmp/kernels.jar"
cp -r "$root/kernels/target/test-classes" "$tmp/test-classes"
cp "$root/bench/target/benchmarks.jar" "$tmp/benchmarks.jar"
mkdir "$tmp/deps"
for jar in "$root"/kernels/target/gpu-deps/*.jar; do
  case $(basename "$jar") in
    junit-platform-console-standalone-*) cp "$jar" "$tmp/junit.jar" ;;
    # the standalone launcher carries JUnit itself: a second copy would register its engine twice
    junit-*|opentest4j-*|apiguardian-*) ;;
    *) cp "$jar" "$tmp/deps/" ;;
  esac
done
[ -f "$tmp/junit.jar" ] || { echo "gpu-bundle: no JUnit console launcher in gpu-deps" >&2; exit 1; }
cp "$root/native/gpu-check.sh" "$tmp/gpu-check.sh"
chmod 755 "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "gpu-bundle: $(du -sh "$out" | cut -f1) in $out"
echo "on the GPU host: bash $out/gpu-check.sh OUTDIR"
