package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * One chunk of prefill of one layer: the attention of the last {@code tokens} positions of a
 * context of N, causal, over a cache that already holds them (chunked prefill; the append itself
 * is a copy and is left out). MLA ({@link #mla}) against MHA ({@link #mha}) as in {@link
 * DecodeBenchmark}. Costs: {@link KernelCost#mlaPrefill} and {@link KernelCost#mhaPrefill}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class PrefillBenchmark {
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

  private Backend impl;
  private DecodeFixture fixture;

  @Setup(Level.Trial)
  public void setUp(BenchmarkParams params) {
    impl = BenchBackends.open(backend, threads);
    String method = params.getBenchmark().substring(params.getBenchmark().lastIndexOf('.') + 1);
    fixture = new DecodeFixture(preset, context, tokens, dtype, 42, method.equals("mla"),
        method.equals("mha"));
    System.out.println("# mla4j: " + impl.description() + ", " + preset + ", N=" + context
        + ", T=" + tokens);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fixture.close();
    impl.close();
  }

  @Benchmark
  public Tensor mla() {
    return fixture.mla(impl);
  }

  @Benchmark
  public Tensor mha() {
    return fixture.mha(impl);
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
