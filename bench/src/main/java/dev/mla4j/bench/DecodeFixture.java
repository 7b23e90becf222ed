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

/**
 * Everything one decode step (or one prefill chunk) of one layer needs, for MLA and for its MHA
 * baseline: caches holding {@code context} tokens of random data and the queries of the last
 * {@code queries} cached positions (1 for decode: the token at {@code context - 1}, as in real
 * decoding; T for a causal prefill chunk whose keys were just appended). Built once; {@link #mla}
 * and {@link #mha} then only run the kernel. A cache that is not asked for stays empty, so a
 * benchmark of one method does not pay for filling the other's cache.
 */
final class DecodeFixture implements AutoCloseable {
  private final Arena arena = Arena.ofShared();
  private final DecodePreset preset;
  private final int context;
  private final int queries;
  private final LatentCache latentCache;
  private final KvCache kvCache;
  private final Tensor qRope; // [T·n_h][d_r]
  private final Tensor qLatent; // [T·n_h][L]
  private final Tensor mlaOut; // [T·n_h][L]
  private final Tensor q; // [T·n_h][d_h]
  private final Tensor mhaOut; // [T·n_h][d_h]

  /** A decode fixture with both caches filled. */
  DecodeFixture(DecodePreset preset, int context, DType cacheType, long seed) {
    this(preset, context, 1, cacheType, seed, true, true);
  }

  /**
   * @param queries T, query tokens at positions {@code context - T .. context - 1}
   * @param fillMla whether the latent cache gets {@code context} tokens
   * @param fillMha whether the K/V cache gets {@code context} tokens
   */
  DecodeFixture(DecodePreset preset, int context, int queries, DType cacheType, long seed,
      boolean fillMla, boolean fillMha) {
    this(preset, context, queries, CacheFormat.plain(cacheType), seed, fillMla, fillMha);
  }

  /**
   * As above over caches in {@code format}, quantized ones included (they quantize on append).
   */
  DecodeFixture(DecodePreset preset, int context, int queries, CacheFormat format, long seed,
      boolean fillMla, boolean fillMha) {
    if (context <= 0 || queries <= 0 || queries > context) {
      throw new IllegalArgumentException("decode needs 0 < queries <= context, got " + queries
          + " queries at context " + context);
    }
    this.preset = preset;
    this.context = context;
    this.queries = queries;
    RandomData random = new RandomData(seed);
    MlaShape mla = preset.mla();
    MhaShape mha = preset.mha();
    latentCache = new LatentCache(mla, 1, format, context);
    kvCache = new KvCache(mha, 1, format, context);
    // Chunks of one cache block keep the staging memory small (DeepSeek's baseline K alone is
    // 128 MiB at 4K tokens); staging in a plain cache's dtype makes append a plain copy, a
    // quantized cache takes F32 rows.
    DType cacheType = format.isQuantized() ? DType.F32 : format.dtype();
    try (Arena staging = Arena.ofConfined()) {
      int chunk = PagedLayers.BLOCK_TOKENS;
      Tensor latent = Tensor.allocate(staging, cacheType, chunk, mla.latentDim());
      Tensor ropeKeys = Tensor.allocate(staging, cacheType, chunk, mla.ropeKeyWidth());
      Tensor keys = Tensor.allocate(staging, cacheType, chunk, mha.kvWidth());
      Tensor values = Tensor.allocate(staging, cacheType, chunk, mha.kvWidth());
      for (int t = 0; t < context; t += chunk) {
        int n = Math.min(chunk, context - t);
        if (fillMla) {
          random.fill(latent, 1);
          random.fill(ropeKeys, 1);
        }
        if (fillMha) {
          random.fill(keys, 1);
          random.fill(values, 1);
        }
        if (fillMla) {
          latentCache.append(0, latent.rows(0, n), ropeKeys.rows(0, n));
        }
        if (fillMha) {
          kvCache.append(0, keys.rows(0, n), values.rows(0, n));
        }
      }
    }
    int mlaRows = queries * mla.heads();
    int mhaRows = queries * mha.heads();
    qRope = random.gaussian(arena, DType.F32, mlaRows, mla.ropeDim(), 1);
    qLatent = random.gaussian(arena, DType.F32, mlaRows, mla.latentDim(), 1);
    mlaOut = Tensor.allocate(arena, DType.F32, mlaRows, mla.latentDim());
    q = random.gaussian(arena, DType.F32, mhaRows, mha.headDim(), 1);
    mhaOut = Tensor.allocate(arena, DType.F32, mhaRows, mha.headDim());
  }

  DecodePreset preset() {
    return preset;
  }

  int context() {
    return context;
  }

  LatentCache latentCache() {
    return latentCache;
  }

  KvCache kvCache() {
    return kvCache;
  }

  /** One MLA decode step (or prefill chunk); returns the output {@code [T·n_h][L]}. */
  Tensor mla(Backend backend) {
    backend.mlaAttention(preset.mla(), qRope, qLatent, latentCache, 0, context - queries, mlaOut);
    return mlaOut;
  }

  /** One MHA decode step (or prefill chunk); returns the output {@code [T·n_h][d_h]}. */
  Tensor mha(Backend backend) {
    backend.mhaAttention(preset.mha(), q, kvCache, 0, context - queries, mhaOut);
    return mhaOut;
  }

  @Override
  public void close() {
    latentCache.close();
    kvCache.close();
    arena.close();
  }
}
