/**
 * mla4j's JMH benchmarks and the report's entry point ({@link dev.mla4j.bench.ReportMain}; the
 * report itself lives in {@code dev.mla4j.bench.report}). Depends on the kernels module, JMH and
 * Jackson.
 *
 * <p>Suites: {@link dev.mla4j.bench.DecodeBenchmark} (one MLA vs one MHA decode step),
 * {@link dev.mla4j.bench.PrefillBenchmark} (a causal chunk of T queries),
 * {@link dev.mla4j.bench.ProjectionBenchmark}, {@link dev.mla4j.bench.RopeBenchmark}, and
 * {@link dev.mla4j.bench.CeilingBenchmark}, which measures this machine's read bandwidth and
 * vector FMA throughput: the roofline every other number is compared with. FLOPs and bytes per
 * operation are defined once, in {@link dev.mla4j.bench.KernelCost}. Model shapes are
 * {@link dev.mla4j.bench.DecodePreset}s. {@link dev.mla4j.bench.CudaDecode} times GPU decode
 * of the device-resident cache with CUDA events (not JMH).
 *
 * <p>Build and run (the JVM flags are those of the parent pom's {@code mla4j.jvm.flags}; JMH
 * forks inherit the flags of the JVM that launches them, so they must be given here):
 * <pre>
 *   ./mla4j mvn -q -DskipTests package
 *   java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *       -jar bench/target/benchmarks.jar 'DecodeBenchmark|CeilingBenchmark' \
 *       -p backend=scalar -rf json -rff results.json
 *   ./mla4j mvn -q -pl bench exec:exec@report -Dreport.args="roofline results.json"
 * </pre>
 * {@code -p backend=scalar} (or {@code simd}) restricts the default {@code scalar,simd} list; a
 * backend that cannot run fails its benchmark with the reason instead of silently running
 * another one.
 *
 * <p>This package may import {@code jdk.incubator.vector} only in {@link
 * dev.mla4j.bench.CeilingBenchmark} and {@link dev.mla4j.bench.VectorWidth}: the ceiling must
 * be measured independently of the SIMD backend, and every other class must load without the
 * module.
 */
package dev.mla4j.bench;
