package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.KvCache;
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
 * One decode step (T = 1) of one layer at context N over a cache in each storage format: BF16,
 * or int8/int4/fp8 with per-token group scales read directly by the kernels (no window, rope keys
 * BF16 for MLA). MLA and its MHA baseline take the same format, so {@code int4 / bf16} of one
 * method is the quantized kernel's speed-up and {@code mha / mla} MLA's at that format. Each
 * trial prints the cache bytes per token and layer, scales included.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class QuantizedDecodeBenchmark {
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

  private Backend impl;
  private final Arena arena = Arena.ofShared();
  private LatentCache latentCache;
  private KvCache kvCache;
  private Tensor qRope;
  private Tensor qLatent;
  private Tensor mlaOut;
  private Tensor q;
  private Tensor mhaOut;

  @Setup(Level.Trial)
  public void setUp() {
    impl = BenchBackends.open(backend, threads);
    CacheFormat f = CacheFormat.parse(format, group, 0, false);
    MlaShape mla = preset.mla();
    MhaShape mha = preset.mha();
    latentCache = new LatentCache(mla, 1, f, context);
    kvCache = new KvCache(mha, 1, f, context);
    RandomData random = new RandomData(42);
    try (Arena staging = Arena.ofConfined()) {
      int chunk = PagedLayers.BLOCK_TOKENS;
      Tensor latent = Tensor.allocate(staging, DType.F32, chunk, mla.latentDim());
      Tensor ropeKeys = Tensor.allocate(staging, DType.F32, chunk, mla.ropeKeyWidth());
      Tensor keys = Tensor.allocate(staging, DType.F32, chunk, mha.kvWidth());
      Tensor values = Tensor.allocate(staging, DType.F32, chunk, mha.kvWidth());
      for (int t = 0; t < context; t += chunk) {
        int n = Math.min(chunk, context - t);
        random.fill(latent, 1);
        random.fill(ropeKeys, 1);
        random.fill(keys, 1);
        random.fill(values, 1);
        latentCache.append(0, latent.rows(0, n), ropeKeys.rows(0, n));
        kvCache.append(0, keys.rows(0, n), values.rows(0, n));
      }
    }
    qRope = random.gaussian(arena, DType.F32, mla.heads(), mla.ropeDim(), 1);
    qLatent = random.gaussian(arena, DType.F32, mla.heads(), mla.latentDim(), 1);
    mlaOut = Tensor.allocate(arena, DType.F32, mla.heads(), mla.latentDim());
    q = random.gaussian(arena, DType.F32, mha.heads(), mha.headDim(), 1);
    mhaOut = Tensor.allocate(arena, DType.F32, mha.heads(), mha.headDim());
    System.out.println("# mla4j: " + impl.description() + ", " + preset + ", N=" + context
        + ", cache " + f + ": MLA " + latentCache.bytesPerToken() + " B/token/layer, MHA "
        + kvCache.bytesPerToken() + " B/token/layer");
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    latentCache.close();
    kvCache.close();
    arena.close();
    impl.close();
  }

  @Benchmark
  public Tensor mla() {
    impl.mlaAttention(preset.mla(), qRope, qLatent, latentCache, 0, context - 1, mlaOut);
    return mlaOut;
  }

  @Benchmark
  public Tensor mha() {
    impl.mhaAttention(preset.mha(), q, kvCache, 0, context - 1, mhaOut);
    return mhaOut;
  }
}
