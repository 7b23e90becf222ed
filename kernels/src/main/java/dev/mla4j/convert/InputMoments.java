package dev.mla4j.convert;

import dev.mla4j.api.Backend;
import dev.mla4j.model.AttentionInputListener;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;

/**
 * Per-layer second moment of the attention inputs, {@code S = Σ x xᵀ / count} over all
 * calibration tokens (spec 9.2), for {@link ActivationAwareSvd}. Each call's {@code XᵀX} is one
 * GEMM on the backend in float (T terms per element), accumulated across calls in double.
 * Memory: d² doubles per layer.
 */
public final class InputMoments implements AttentionInputListener {
  private final Backend backend;
  private final int hidden;
  private final double[][][] sum; // [layers][d][d]
  private final long[] count;

  public InputMoments(Backend backend, int layers, int hidden) {
    this.backend = backend;
    this.hidden = hidden;
    this.sum = new double[layers][hidden][hidden];
    this.count = new long[layers];
  }

  @Override
  public void onAttentionInput(int layer, Tensor x) {
    x.requireF32("attention input", x.rows(), hidden);
    if (x.rows() == 0) {
      return;
    }
    try (Arena arena = Arena.ofShared()) {
      Tensor xt = Dense.transpose(arena, x);
      Tensor g = Tensor.allocate(arena, DType.F32, hidden, hidden);
      backend.linear(xt, xt, g); // Xᵀ X
      double[][] s = sum[layer];
      for (int i = 0; i < hidden; i++) {
        for (int j = 0; j < hidden; j++) {
          s[i][j] += g.get(i, j);
        }
      }
    }
    count[layer] += x.rows();
  }

  /** S of {@code layer}, {@code [d][d]}; a fresh array. */
  public double[][] moments(int layer) {
    if (count[layer] == 0) {
      throw new IllegalStateException("no calibration tokens reached layer " + layer);
    }
    double[][] out = new double[hidden][];
    for (int i = 0; i < hidden; i++) {
      out[i] = sum[layer][i].clone();
      for (int j = 0; j < hidden; j++) {
        out[i][j] /= count[layer];
      }
    }
    return out;
  }

  public long tokens(int layer) {
    return count[layer];
  }
}
