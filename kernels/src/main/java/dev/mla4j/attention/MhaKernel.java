package dev.mla4j.attention;

import dev.mla4j.api.MhaShape;
import dev.mla4j.cache.KvCache;
import dev.mla4j.tensor.Tensor;

/**
 * MHA/GQA attention of a block of query rows over cached tokens {@code [from, to)} of one layer,
 * folded into a {@link SoftmaxState} of width d_h. Query rows are numbered as in
 * {@link MlaKernel}: row {@code i} is head {@code i % n_h} of query token {@code i / n_h}, causal.
 */
public interface MhaKernel {

  /**
   * @param q {@code [T·n_h][d_h]} F32, already rotated
   * @param from first cached position, a multiple of 64
   * @param to end of the range (exclusive), at most the cache length
   */
  void attend(MhaShape shape, Tensor q, int firstQueryPos, KvCache cache, int layer,
      int from, int to, SoftmaxState state);
}
