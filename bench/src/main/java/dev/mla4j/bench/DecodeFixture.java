package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;

/**
 * Everything one decode step of one layer needs, for MLA and for its MHA baseline: caches
 * holding {@code context} tokens of random data and the query of the token at position
 * {@code context - 1} (the last cached one, as in real decoding). Built once; {@link #mla} and
 * {@link #mha} then only run the kernel.
 */
final class DecodeFixture implements AutoCloseable {
  private final Arena arena = Arena.ofShared();
  private final DecodePreset preset;
  private final int context;
  private final LatentCache latentCache;
  private final KvCache kvCache;
  private final Tensor qRope; // [n_h][d_r]
  private final Tensor qLatent; // [n_h][L]
  private final Tensor mlaOut; // [n_h][L]
  private final Tensor q; // [n_h][d_h]
  private final Tensor mhaOut; // [n_h][d_h]

  DecodeFixture(DecodePreset preset, int context, DType cacheType, long seed) {
    if (context <= 0) {
      throw new IllegalArgumentException("decode context must be > 0, got " + context);
    }
    this.preset = preset;
    this.context = context;
    RandomData random = new RandomData(seed);
    MlaShape mla = preset.mla();
    MhaShape mha = preset.mha();
    latentCache = new LatentCache(mla, 1, cacheType, context);
    kvCache = new KvCache(mha, 1, cacheType, context);
    // Chunks of one cache block keep the staging memory small (DeepSeek's baseline K alone is
    // 128 MiB at 4K tokens); staging in the cache's dtype makes append a plain copy.
    try (Arena staging = Arena.ofConfined()) {
      int chunk = PagedLayers.BLOCK_TOKENS;
      Tensor latent = Tensor.allocate(staging, cacheType, chunk, mla.latentDim());
      Tensor ropeKeys = Tensor.allocate(staging, cacheType, chunk, mla.ropeKeyWidth());
      Tensor keys = Tensor.allocate(staging, cacheType, chunk, mha.kvWidth());
      Tensor values = Tensor.allocate(staging, cacheType, chunk, mha.kvWidth());
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
  }

  DecodePreset preset() {
    return preset;
  }

  LatentCache latentCache() {
    return latentCache;
  }

  KvCache kvCache() {
    return kvCache;
  }

  /** One MLA decode step; returns the output {@code [n_h][L]}. */
  Tensor mla(Backend backend) {
    backend.mlaAttention(preset.mla(), qRope, qLatent, latentCache, 0, context - 1, mlaOut);
    return mlaOut;
  }

  /** One MHA decode step; returns the output {@code [n_h][d_h]}. */
  Tensor mha(Backend backend) {
    backend.mhaAttention(preset.mha(), q, kvCache, 0, context - 1, mhaOut);
    return mhaOut;
  }

  @Override
  public void close() {
    latentCache.close();
    kvCache.close();
    arena.close();
  }
}
