package dev.mla4j.model;

import dev.mla4j.tensor.Tensor;

/**
 * Called by the forward pass with each layer's attention input (after the input RMSNorm, before
 * the q/k/v projections), e.g. to gather calibration statistics. The tensor is only valid during
 * the call.
 */
@FunctionalInterface
public interface AttentionInputListener {
  /**
   * @param layer layer index
   * @param x {@code [T][d]} F32
   */
  void onAttentionInput(int layer, Tensor x);
}
