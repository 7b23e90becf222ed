#!/usr/bin/env bash
# Paired MHA rounds of stop 19: BF16 and int8 MHA decode at the same time (QuantizedDecodePairBenchmark,
# attention=mha), the jar before the quad path (pold) and after it (pnew) alternated; an A/A control.
F="--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
for r in 1 2; do
  for v in pold pnew; do
    for slot in 0 1; do
      echo "== round $r jar $v format=int8 bf16Slot=$slot $(date -u +%T)"
      java $F -jar /tmp/$v.jar QuantizedDecodePairBenchmark -jvmArgsAppend "$F" -p attention=mha \
        -p format=int8 -p bf16Slot=$slot -wi 4 -i 12 -w 2 -r 2 -f 1 2>&1 | grep -E "^QuantizedDecodePairBenchmark"
    done
  done
done
echo "== A/A jar pnew format=bf16 bf16Slot=0 $(date -u +%T)"
java $F -jar /tmp/pnew.jar QuantizedDecodePairBenchmark -jvmArgsAppend "$F" -p attention=mha \
  -p format=bf16 -p bf16Slot=0 -wi 4 -i 12 -w 2 -r 2 -f 1 2>&1 | grep -E "^QuantizedDecodePairBenchmark"
