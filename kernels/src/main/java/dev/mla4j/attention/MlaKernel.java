package dev.mla4j.attention;

import dev.mla4j.api.MlaShape;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.tensor.Tensor;

/**
 * Absorbed MLA attention (spec 4.3) of a block of query rows over cached tokens
 * {@code [from, to)} of one layer, folded into a {@link SoftmaxState} of width L.
 *
 * <p>Query row {@code i} is head {@code i % n_h} of query token {@code i / n_h}, at position
 * {@code firstQueryPos + i / n_h}; it sees only cached positions up to its own (causal).
 * Score: {@code (qRope_i · kRope(τ) + qLatent_i · c(τ)) · scale}; value: {@code c(τ)}.
 */
public interface MlaKernel {

  /**
   * @param qRope {@code [T·n_h][d_r]} F32, already rotated
   * @param qLatent {@code [T·n_h][L]} F32, the absorbed queries q~
   * @param from first cached position, a multiple of 64
   * @param to end of the range (exclusive), at most the cache length
   */
  void attend(MlaShape shape, Tensor qRope, Tensor qLatent, int firstQueryPos,
      LatentCache cache, int layer, int from, int to, SoftmaxState state);
}
