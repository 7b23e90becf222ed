package dev.mla4j.simd;

import dev.mla4j.api.MlaShape;
import dev.mla4j.bench.RandomData;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.cache.PagedLayers;
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
 * The one step in which the SIMD MLA decode over a quantized latent cache differs from the BF16
 * one: staging a 64-token block into F32 rows ({@code c [64][L]}, {@code kr [64][krw]}), by
 * widening BF16 or by dequantizing codes ({@link SimdQuantStage}). Everything after it is the same
 * F32 work, so the quantized decode can only be as fast as BF16's if its staging is. One
 * operation stages one block of a 4096-token cache, the next block each time, as a decode step
 * walks them. In this package (not {@code dev.mla4j.bench}) because staging is not public API.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 8, time = 1)
@Fork(1)
public class StagingBenchmark {
  private static final int TOKENS = 4096;

  /** {@code bf16}, {@code int8}, {@code int4} or {@code fp8} (group 64, rope keys BF16). */
  @Param({"bf16", "int8", "int4", "fp8"})
  public String format;

  /** Latent width L; the rope keys are 32 heads of d_r 16 (Llama-2-7B at r = 8). */
  @Param({"512"})
  public int latentDim;

  private LatentCache cache;
  private SimdMlaTile tile;
  private SimdQuantStage stage;
  private int block;

  @Setup(Level.Trial)
  public void setUp() {
    MlaShape s = MlaShape.mha2mla(32, 32, 128, 8, latentDim / 32);
    cache = new LatentCache(s, 1, CacheFormat.parse(format, 64, 0, false), TOKENS);
    RandomData random = new RandomData(7);
    int n = PagedLayers.BLOCK_TOKENS;
    try (Arena arena = Arena.ofConfined()) {
      Tensor latent = Tensor.allocate(arena, DType.F32, n, s.latentDim());
      Tensor rope = Tensor.allocate(arena, DType.F32, n, s.ropeKeyWidth());
      for (int t = 0; t < TOKENS; t += n) {
        random.fill(latent, 1);
        random.fill(rope, 1);
        cache.append(0, latent, rope);
      }
    }
    tile = new SimdMlaTile(s, s.heads(), TOKENS - 1);
    stage = cache.format().isQuantized() ? new SimdQuantStage(tile, cache) : null;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    cache.close();
  }

  @Benchmark
  public float[] stageBlock() {
    int b = block;
    block = (b + 1) % (TOKENS / PagedLayers.BLOCK_TOKENS);
    int n = PagedLayers.BLOCK_TOKENS;
    if (stage != null) {
      stage.stage(0, b * n, n);
    } else {
      tile.stageLatent(cache.latentBlock(0, b), 0, n);
      tile.stageRope(cache.ropeBlock(0, b), 0, n);
    }
    return tile.c;
  }
}
