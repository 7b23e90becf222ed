package dev.mla4j.model;

import dev.mla4j.tensor.Tensor;

/**
 * Sees the residual stream in Hugging Face's {@code output_hidden_states} convention: index 0
 * is the embedding output, index l+1 the output of layer l, and the last index (= layers) is the
 * last layer's output after the final norm. The tensor is only valid during the call.
 */
@FunctionalInterface
public interface HiddenStateListener {
  /** @param h {@code [T][d]} F32 */
  void onHiddenState(int index, Tensor h);
}
