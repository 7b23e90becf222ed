package dev.mla4j.scalar;

import dev.mla4j.api.MlaShape;
import dev.mla4j.attention.MlaKernel;
import dev.mla4j.attention.SoftmaxState;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.tensor.Tensor;

/**
 * Absorbed MLA attention, one cached token at a time, online softmax per query row. Each token's
 * row is decoded by the cache (widened, or dequantized code by scale), whatever its format.
 */
final class ScalarMlaAttention implements MlaKernel {

  @Override
  public void attend(MlaShape s, Tensor qRope, Tensor qLatent, int firstQueryPos,
      LatentCache cache, int layer, int from, int to, SoftmaxState state) {
    int heads = s.heads();
    int dr = s.ropeDim();
    int latentDim = s.latentDim();
    float[] c = new float[latentDim];
    float[] kRope = new float[s.ropeKeyWidth()];
    for (int pos = from; pos < to; pos++) {
      cache.readLatent(layer, pos, c);
      cache.readRopeKeys(layer, pos, kRope);
      for (int row = 0; row < state.rows; row++) {
        if (firstQueryPos + row / heads < pos) {
          continue; // causal: this query token comes before the cached position
        }
        int keyOffset = s.ropeKeyOffset(row % heads);
        float score = 0;
        for (int i = 0; i < dr; i++) {
          score += qRope.get(row, i) * kRope[keyOffset + i];
        }
        for (int i = 0; i < latentDim; i++) {
          score += qLatent.get(row, i) * c[i];
        }
        ScalarSoftmax.accumulate(state, row, score * s.softmaxScale(), c);
      }
    }
  }
}
