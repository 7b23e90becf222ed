package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.cache.CacheFormat;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One decode step (T = 1) of one layer at context N over a cache in each storage format: BF16,
 * or int8/int4/fp8 with per-token group scales read directly by the kernels (no window, rope keys
 * BF16 for MLA). MLA and its MHA baseline take the same format, so {@code int4 / bf16} of one
 * method is the quantized kernel's speed-up and {@code mha / mla} MLA's at that format. Each
 * trial prints the cache bytes per token and layer, scales included. The timed methods:
 * {@link MlaVsMhaBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class QuantizedDecodeBenchmark extends MlaVsMhaBenchmark {
  @Param({"simd"})
  public String backend;

  @Param({"LLAMA2_7B_DKV16"})
  public DecodePreset preset;

  @Param({"4096"})
  public int context;

  /** {@code bf16}, {@code int8}, {@code int4} or {@code fp8}. */
  @Param({"bf16", "int8", "int4", "fp8"})
  public String format;

  /** Elements per scale of the quantized formats. */
  @Param({"64"})
  public int group;

  @Param({"2"})
  public int threads;

  @Override
  Backend openBackend() {
    return BenchBackends.open(backend, threads);
  }

  /** Fills both caches whichever method runs, as this suite always did: runs stay comparable. */
  @Override
  DecodeFixture newFixture(String method) {
    return new DecodeFixture(preset, context, 1, CacheFormat.parse(format, group, 0, false), 42,
        true, true);
  }

  @Override
  String details(DecodeFixture fixture) {
    return ", cache " + fixture.latentCache().format() + ": MLA "
        + fixture.latentCache().bytesPerToken() + " B/token/layer, MHA "
        + fixture.kvCache().bytesPerToken() + " B/token/layer";
  }
}
