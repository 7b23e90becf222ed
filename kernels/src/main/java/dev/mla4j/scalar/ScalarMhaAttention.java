package dev.mla4j.scalar;

import dev.mla4j.api.MhaShape;
import dev.mla4j.attention.MhaKernel;
import dev.mla4j.attention.SoftmaxState;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.Tensor;

/** MHA/GQA attention, one cached token at a time, online softmax per query row. */
final class ScalarMhaAttention implements MhaKernel {

  @Override
  public void attend(MhaShape s, Tensor q, int firstQueryPos, KvCache cache, int layer,
      int from, int to, SoftmaxState state) {
    int heads = s.heads();
    int dh = s.headDim();
    float[] k = new float[s.kvWidth()];
    float[] v = new float[dh];
    for (int pos = from; pos < to; pos++) {
      int slot = pos % PagedLayers.BLOCK_TOKENS;
      Tensor keyBlock = cache.keyBlock(layer, pos / PagedLayers.BLOCK_TOKENS);
      Tensor valueBlock = cache.valueBlock(layer, pos / PagedLayers.BLOCK_TOKENS);
      for (int i = 0; i < k.length; i++) {
        k[i] = keyBlock.get(slot, i);
      }
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
          v[i] = valueBlock.get(slot, kvHead * dh + i);
        }
        ScalarSoftmax.accumulate(state, row, score * s.softmaxScale(), v);
      }
    }
  }
}
