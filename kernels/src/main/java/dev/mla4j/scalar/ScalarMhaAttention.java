package dev.mla4j.scalar;

import dev.mla4j.api.MhaShape;
import dev.mla4j.attention.MhaKernel;
import dev.mla4j.attention.SoftmaxState;
import dev.mla4j.cache.KvCache;
import dev.mla4j.tensor.Tensor;

/**
 * MHA/GQA attention, one cached token at a time, online softmax per query row; rows decoded by
 * the cache whatever its format.
 */
final class ScalarMhaAttention implements MhaKernel {

  @Override
  public void attend(MhaShape s, Tensor q, int firstQueryPos, KvCache cache, int layer,
      int from, int to, SoftmaxState state) {
    int heads = s.heads();
    int dh = s.headDim();
    float[] k = new float[s.kvWidth()];
    float[] values = new float[s.kvWidth()];
    float[] v = new float[dh];
    for (int pos = from; pos < to; pos++) {
      cache.readKeys(layer, pos, k);
      cache.readValues(layer, pos, values);
      for (int row = 0; row < state.rows; row++) {
        if (firstQueryPos + row / heads < pos) {
          continue; // causal
        }
        int kvHead = (row % heads) / s.groupSize();
        float score = 0;
        for (int i = 0; i < dh; i++) {
          score += q.get(row, i) * k[kvHead * dh + i];
        }
        for (int i = 0; i < dh; i++) {
          v[i] = values[kvHead * dh + i];
        }
        ScalarSoftmax.accumulate(state, row, score * s.softmaxScale(), v);
      }
    }
  }
}
