package dev.mla4j.conformance;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.oracle.AttentionOracle;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.Caches;
import dev.mla4j.testing.Conformance;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.function.IntFunction;

/**
 * What the attention tests share, for plain and quantized caches alike: random queries, the
 * oracle on what a cache stores, and one case of a cache filled by {@link Caches} run on the
 * backends under {@link Conformance}'s rule.
 */
final class AttentionChecks {
  /** The layer an MLA case queries; layer 0, filled before it, holds tokens to ignore. */
  private static final int MLA_LAYER = 1;
  /** The layer an MHA case queries; layer 1, filled after it, holds tokens to ignore. */
  private static final int MHA_LAYER = 0;

  private AttentionChecks() {}

  /**
   * N(0, σ²) F32 queries {@code [rows][cols]}, σ chosen so that the scores (dot products over
   * {@code scoreTerms} N(0,1) key elements, times {@code softmaxScale}) have a standard deviation
   * of about 2.
   */
  static Tensor queries(Arena arena, Seeds.Case c, int rows, int cols, float softmaxScale,
      int scoreTerms) {
    return Inputs.gaussian(arena, c, DType.F32, rows, cols,
        2 / (softmaxScale * Math.sqrt(scoreTerms)));
  }

  /** The oracle's absorbed MLA of the queries over a layer's stored rope keys and latents. */
  static double[] mlaOracle(MlaShape s, Tensor qRope, Tensor qLatent, double[] ropeKeys,
      double[] latents, int firstQueryPos) {
    return AttentionOracle.mlaAbsorbed(TensorReader.read(qRope), TensorReader.read(qLatent),
        ropeKeys, latents, s.heads(), s.kvHeads(), s.ropeDim(), s.latentDim(),
        s.ropeKeys() == RopeKeyLayout.SHARED, firstQueryPos, s.softmaxScale());
  }

  /** The oracle's MHA/GQA of the queries over a layer's stored keys and values. */
  static double[] mhaOracle(MhaShape s, Tensor query, double[] keys, double[] values,
      int firstQueryPos) {
    return AttentionOracle.mha(TensorReader.read(query), keys, values, s.heads(), s.kvHeads(),
        s.headDim(), firstQueryPos, s.softmaxScale());
  }

  /**
   * One MLA case on {@code backends}: {@link #MLA_LAYER} of a two-layer cache made by
   * {@code newCache} (given its capacity) holds the context of {@code q} then {@code poisoned}
   * tokens, the other layer a random number of tokens the kernel must ignore.
   */
  static void mla(String what, Seeds.Case c, MlaShape s, IntFunction<LatentCache> newCache,
      Queries q, int threads, int poisoned, List<String> backends) {
    int ctx = q.context();
    int rows = q.tokens() * s.heads();
    try (Arena arena = Arena.ofShared(); LatentCache cache = newCache.apply(ctx + poisoned)) {
      Caches.fill(arena, c, cache, 0, 1 + c.nextInt(ctx), 0); // another layer, to be ignored
      Caches.fill(arena, c, cache, MLA_LAYER, ctx, poisoned);
      int scoreTerms = s.ropeDim() + s.latentDim();
      Tensor qRope = queries(arena, c, rows, s.ropeDim(), s.softmaxScale(), scoreTerms);
      Tensor qLatent = queries(arena, c, rows, s.latentDim(), s.softmaxScale(), scoreTerms);
      double[] latents = Caches.latents(cache, MLA_LAYER, ctx);
      double[] ref = mlaOracle(s, qRope, qLatent, Caches.ropeKeys(cache, MLA_LAYER, ctx),
          latents, q.firstQueryPos());
      double floor = ErrorCheck.attentionFloor(scoreTerms + ctx, ref, latents);
      Conformance.check(what, c, threads, ref, floor, backends,
          b -> Inputs.written(arena, rows, s.latentDim(), out ->
              b.mlaAttention(s, qRope, qLatent, cache, MLA_LAYER, q.firstQueryPos(), out)));
    }
  }

  /** One MHA/GQA case on {@code backends}, as {@link #mla} on {@link #MHA_LAYER}. */
  static void mha(String what, Seeds.Case c, MhaShape s, IntFunction<KvCache> newCache,
      Queries q, int threads, int poisoned, List<String> backends) {
    int ctx = q.context();
    int rows = q.tokens() * s.heads();
    try (Arena arena = Arena.ofShared(); KvCache cache = newCache.apply(ctx + poisoned)) {
      Caches.fill(arena, c, cache, MHA_LAYER, ctx, poisoned);
      Caches.fill(arena, c, cache, 1, 1 + c.nextInt(ctx), 0); // another layer, to be ignored
      Tensor query = queries(arena, c, rows, s.headDim(), s.softmaxScale(), s.headDim());
      double[] values = Caches.values(cache, MHA_LAYER, ctx);
      double[] ref = mhaOracle(s, query, Caches.keys(cache, MHA_LAYER, ctx), values,
          q.firstQueryPos());
      double floor = ErrorCheck.attentionFloor(s.headDim() + ctx, ref, values);
      Conformance.check(what, c, threads, ref, floor, backends,
          b -> Inputs.written(arena, rows, s.headDim(), out ->
              b.mhaAttention(s, query, cache, MHA_LAYER, q.firstQueryPos(), out)));
    }
  }
}
