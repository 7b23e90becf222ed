package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.rope.PairLayout;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.rope.RopeFrequencies;
import dev.mla4j.rope.RopeScaling;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Arrays;
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
 * Partial RoPE (spec 2.4) of Llama-2-7B after MHA2MLA: 32 heads (= n_kv), d_h 128, r = 8 kept
 * pairs per head, a different random set per kv head as 2-norm selection gives. In place: a
 * rotation keeps the norm, so repeating it keeps the data in range. Cost {@link KernelCost#rope}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class RopeBenchmark {
  static final int HEADS = 32;
  static final int HEAD_DIM = 128;
  static final int PAIRS = 8;

  @Param({"scalar", "simd"})
  public String backend;

  @Param({"1", "64"})
  public int tokens;

  @Param({"2"})
  public int threads;

  private Backend impl;
  private Arena arena;
  private PartialRope rope;
  private Tensor x; // [T][n_h·d_r]
  private int[] positions; // [T]

  @Setup(Level.Trial)
  public void setUp() {
    impl = BenchBackends.open(backend, threads);
    arena = Arena.ofShared();
    RandomData random = new RandomData(5);
    RopeFrequencies freq = RopeFrequencies.of(HEAD_DIM, 10_000, RopeScaling.none());
    int[][][] kept = new int[1][HEADS][];
    for (int j = 0; j < HEADS; j++) {
      kept[0][j] = randomPairs(random, freq.pairs());
    }
    rope = new PartialRope(freq, PairLayout.HALF_SPLIT, kept);
    x = random.gaussian(arena, DType.F32, tokens, HEADS * rope.ropeDim(), 1);
    positions = new int[tokens];
    for (int t = 0; t < tokens; t++) {
      positions[t] = 4000 + t; // far into the context: large angles, no small-angle shortcuts
    }
    System.out.println("# mla4j: " + impl.description() + ", rope T=" + tokens);
  }

  /** {@link #PAIRS} distinct pair indices of {@code [0, pairs)}, ascending. */
  private static int[] randomPairs(RandomData random, int pairs) {
    boolean[] taken = new boolean[pairs];
    int[] out = new int[PAIRS];
    for (int m = 0; m < PAIRS; m++) {
      int i;
      do {
        i = random.nextInt(pairs);
      } while (taken[i]);
      taken[i] = true;
      out[m] = i;
    }
    Arrays.sort(out);
    return out;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    impl.close();
    arena.close();
  }

  @Benchmark
  public Tensor rope() {
    impl.rope(x, positions, rope, 0);
    return x;
  }

  static KernelCost cost(Map<String, String> params) {
    return KernelCost.rope(Integer.parseInt(params.get("tokens")), HEADS, PAIRS);
  }
}
