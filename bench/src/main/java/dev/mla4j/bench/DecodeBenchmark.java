package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.DType;
import java.util.Map;
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
 * One decode step (T = 1) of one layer at context N: absorbed MLA attention over a latent cache
 * ({@link #mla}) against the MHA attention it replaces ({@link #mha}), same backend, threads and
 * cache dtype, so {@code mha / mla} of one run is MLA's speed-up. Costs: {@link
 * KernelCost#mlaDecode} and {@link KernelCost#mhaDecode}. The timed methods: {@link
 * MlaVsMhaBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class DecodeBenchmark extends MlaVsMhaBenchmark {
  /** Restrict with {@code -p backend=scalar}; an unavailable backend fails, never falls back. */
  @Param({"scalar", "simd"})
  public String backend;

  @Param({"LLAMA2_7B_DKV16", "LLAMA2_7B_DKV32", "DEEPSEEK_V2", "SMOLLM_135M_DKV16"})
  public DecodePreset preset;

  @Param({"4096"})
  public int context;

  @Param({"BF16"})
  public DType dtype;

  @Param({"2"})
  public int threads;

  @Override
  Backend openBackend() {
    return BenchBackends.open(backend, threads);
  }

  @Override
  DecodeFixture newFixture(String method) {
    return new DecodeFixture(preset, context, 1, dtype, 42, method.equals("mla"),
        method.equals("mha"));
  }

  static KernelCost cost(String method, Map<String, String> params) {
    DecodePreset p = DecodePreset.named(params.get("preset"));
    int n = Integer.parseInt(params.get("context"));
    DType cache = DType.valueOf(params.get("dtype"));
    return switch (method) {
      case "mla" -> KernelCost.mlaDecode(p.mla(), n, cache);
      case "mha" -> KernelCost.mhaDecode(p.mha(), n, cache);
      default -> throw new IllegalArgumentException("DecodeBenchmark has no method " + method);
    };
  }
}
