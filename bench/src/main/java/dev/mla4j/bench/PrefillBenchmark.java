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
 * One chunk of prefill of one layer: the attention of the last {@code tokens} positions of a
 * context of N, causal, over a cache that already holds them (chunked prefill; the append itself
 * is a copy and is left out). MLA ({@link #mla}) against MHA ({@link #mha}) as in {@link
 * DecodeBenchmark}. Costs: {@link KernelCost#mlaPrefill} and {@link KernelCost#mhaPrefill}.
 * The timed methods: {@link MlaVsMhaBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class PrefillBenchmark extends MlaVsMhaBenchmark {
  @Param({"scalar", "simd"})
  public String backend;

  @Param({"LLAMA2_7B_DKV16", "SMOLLM_135M_DKV16"})
  public DecodePreset preset;

  @Param({"4096"})
  public int context;

  /** T, query tokens of the chunk. */
  @Param({"64"})
  public int tokens;

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
    return new DecodeFixture(preset, context, tokens, dtype, 42, method.equals("mla"),
        method.equals("mha"));
  }

  @Override
  String details(DecodeFixture fixture) {
    return ", T=" + tokens;
  }

  static KernelCost cost(String method, Map<String, String> params) {
    DecodePreset p = DecodePreset.named(params.get("preset"));
    int n = Integer.parseInt(params.get("context"));
    int t = Integer.parseInt(params.get("tokens"));
    DType cache = DType.valueOf(params.get("dtype"));
    return switch (method) {
      case "mla" -> KernelCost.mlaPrefill(p.mla(), n, t, cache);
      case "mha" -> KernelCost.mhaPrefill(p.mha(), n, t, cache);
      default -> throw new IllegalArgumentException("PrefillBenchmark has no method " + method);
    };
  }
}
