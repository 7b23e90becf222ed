#!/usr/bin/env bash
# Paired MHA rounds of stop 19: BF16 and a quantized MHA decode at the same time
# (QuantizedDecodePairBenchmark, attention=mha), two jars alternated, both thread placements.
#   pairs.sh FORMAT OLD.jar NEW.jar [AA]   (AA: then one A/A control run, BF16 on both threads)
# pairs.log: pairs.sh int8 /tmp/pold.jar /tmp/pnew.jar AA (before / after the int8 quad path)
# pairs-int4.log: pairs.sh int4 /tmp/pold.jar /tmp/pnew4.jar (with the rejected int4 quad path)
format=$1 old=$2 new=$3
F="--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
pair() {  # jar format slot
  java $F -jar "$1" QuantizedDecodePairBenchmark -jvmArgsAppend "$F" -p attention=mha \
    -p format="$2" -p bf16Slot="$3" -wi 4 -i 12 -w 2 -r 2 -f 1 2>&1 \
    | grep -E "^QuantizedDecodePairBenchmark"
}
for r in 1 2; do
  for jar in "$old" "$new"; do
    for slot in 0 1; do
      echo "== round $r jar $(basename "$jar" .jar) format=$format bf16Slot=$slot $(date -u +%T)"
      pair "$jar" "$format" "$slot"
    done
  done
done
if [ -n "${4:-}" ]; then
  echo "== A/A jar $(basename "$new" .jar) format=bf16 bf16Slot=0 $(date -u +%T)"
  pair "$new" bf16 0
fi
