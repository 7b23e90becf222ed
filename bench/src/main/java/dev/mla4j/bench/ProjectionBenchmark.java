package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
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

/**
 * Linear layer {@code y = x Wᵀ} with BF16 weights: GEMV (1 token, decode) and GEMM (64 tokens,
 * prefill) at Llama-2-7B's 4096x4096 projections and the MHA2MLA down-projection W_dkv
 * {@code [L=512][d=4096]}. Cost {@link KernelCost#linear}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class ProjectionBenchmark {
  @Param({"scalar", "simd"})
  public String backend;

  /** Weight shape {@code out x in}. */
  @Param({"4096x4096", "512x4096"})
  public String weight;

  @Param({"1", "64"})
  public int tokens;

  @Param({"BF16"})
  public DType dtype;

  @Param({"2"})
  public int threads;

  private Backend impl;
  private Arena arena;
  private Tensor x; // [T][in]
  private Tensor w; // [out][in]
  private Tensor y; // [T][out]

  @Setup(Level.Trial)
  public void setUp() {
    impl = BenchBackends.open(backend, threads);
    arena = Arena.ofShared();
    int[] shape = parseWeight(weight);
    RandomData random = new RandomData(11);
    x = random.gaussian(arena, DType.F32, tokens, shape[1], 1);
    // typical trained-weight scale: keeps y in the range real layers produce
    w = random.gaussian(arena, dtype, shape[0], shape[1], 0.02);
    y = Tensor.allocate(arena, DType.F32, tokens, shape[0]);
    System.out.println("# mla4j: " + impl.description() + ", W " + w.shape() + ", T=" + tokens);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    impl.close();
    arena.close();
  }

  @Benchmark
  public Tensor linear() {
    impl.linear(x, w, y);
    return y;
  }

  /** {@code "OUTxIN"} as {@code {out, in}}. */
  static int[] parseWeight(String weight) {
    String[] parts = weight.split("x");
    if (parts.length != 2) {
      throw new IllegalArgumentException("weight shape must be OUTxIN, e.g. 4096x4096, got " + weight);
    }
    return new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1])};
  }

  static KernelCost cost(Map<String, String> params) {
    int[] shape = parseWeight(params.get("weight"));
    return KernelCost.linear(Integer.parseInt(params.get("tokens")), shape[0], shape[1],
        DType.valueOf(params.get("dtype")));
  }
}
