package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.convert.MlaConverter;
import dev.mla4j.convert.PairSelection;
import dev.mla4j.convert.SvdSolver;
import dev.mla4j.model.AttentionWeights;
import dev.mla4j.model.MlaAttentionWeights;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
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
 * Converting one Llama-2-7B-shaped attention layer (random BF16 weights, d = 4096, 32 heads,
 * d_h 128, r = 8 pairs by S_uniform) with weight-only SVD_joint through the randomized SVD
 * (oversampling 10, 2 power iterations): the SVD of {@code [W_k,nope ; W_v] = [7680][4096]} to
 * rank L = 32·d_kv (512 at d_kv 16, 2048 at d_kv 64), plus the row gathers of W_q and W_k.
 * Single shot: one conversion is the unit of work a user waits for.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"-Xmx8g"})
public class ConvertLayerBenchmark {
  @Param({"simd"})
  public String backend;

  @Param({"16", "64"})
  public int dKv;

  @Param({"2"})
  public int threads;

  private static final int D = 4096;
  private static final int HEADS = 32;
  private static final int HEAD_DIM = 128;
  private static final int R = 8;

  private Backend impl;
  private Arena arena;
  private AttentionWeights weights;
  private int[][] kept;

  @Setup(Level.Trial)
  public void setUp() {
    impl = BenchBackends.open(backend, threads);
    arena = Arena.ofShared();
    RandomData random = new RandomData(17);
    int rows = HEADS * HEAD_DIM;
    Tensor wq = random.gaussian(arena, DType.BF16, rows, D, 0.02);
    Tensor wk = random.gaussian(arena, DType.BF16, rows, D, 0.02);
    Tensor wv = random.gaussian(arena, DType.BF16, rows, D, 0.02);
    Tensor wo = random.gaussian(arena, DType.BF16, D, rows, 0.02);
    weights = new AttentionWeights(wq, null, wk, null, wv, null, wo);
    kept = PairSelection.uniform(1, HEADS, HEAD_DIM / 2, R, 0)[0];
    System.out.println("# mla4j: " + impl.description() + ", layer d=" + D + " n_h=n_kv=" + HEADS
        + " d_h=" + HEAD_DIM + " r=" + R + " d_kv=" + dKv + " (SVD of [7680][4096] to rank "
        + HEADS * dKv + ")");
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    impl.close();
    arena.close();
  }

  @Benchmark
  public float convert() {
    try (Arena out = Arena.ofShared()) {
      MlaConverter.Options o = MlaConverter.Options.joint(dKv).withSolver(SvdSolver.RANDOMIZED);
      MlaAttentionWeights m = MlaConverter.convertLayer(impl, HEADS, HEADS, HEAD_DIM, weights,
          kept, o, null, out);
      return m.wDkv().get(0, 0) + m.wUv().get(0, 0);
    }
  }
}
