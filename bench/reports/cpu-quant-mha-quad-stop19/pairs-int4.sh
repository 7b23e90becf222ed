#!/usr/bin/env bash
# As pairs.sh for int4: pold = jar before the quad paths, pnew4 = with the int4 quad path too.
F="--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
for r in 1 2; do
  for v in pold pnew4; do
    for slot in 0 1; do
      echo "== round $r jar $v format=int4 bf16Slot=$slot $(date -u +%T)"
      java $F -jar /tmp/$v.jar QuantizedDecodePairBenchmark -jvmArgsAppend "$F" -p attention=mha \
        -p format=int4 -p bf16Slot=$slot -wi 4 -i 12 -w 2 -r 2 -f 1 2>&1 | grep -E "^QuantizedDecodePairBenchmark"
    done
  done
done
