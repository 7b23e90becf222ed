package dev.mla4j.convert;

import dev.mla4j.api.Backend;
import dev.mla4j.model.AttentionInputListener;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;

/**
 * Per-layer second moment of the attention inputs, {@code S = Σ x xᵀ / count}, and their mean, over all
 * calibration tokens (spec 9.2), for {@link ActivationAwareSvd}. Each call's {@code XᵀX} is one
 * GEMM on the backend in float (T terms per element), accumulated across calls in double.
 * Memory: d² doubles per layer.
 */
public final class InputMoments implements AttentionInputListener {
  private final Backend backend;
  private final int hidden;
  private final double[][][] sum; // [layers][d][d]
  private final double[][] first; // [layers][d]
  private final long[] count;

  public InputMoments(Backend backend, int layers, int hidden) {
    this.backend = backend;
    this.hidden = hidden;
    this.sum = new double[layers][hidden][hidden];
    this.first = new double[layers][hidden];
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
    double[] f = first[layer];
    for (int t = 0; t < x.rows(); t++) {
      for (int i = 0; i < hidden; i++) {
        f[i] += x.get(t, i);
      }
    }
    count[layer] += x.rows();
  }

  /** One layer's calibration statistics: S {@code [d][d]} and {@code E[x]} {@code [d]}. */
  public record Layer(double[][] second, double[] mean) {
    /** {@code S − μμᵀ} {@code [d][d]}; a fresh array. */
    public double[][] covariance() {
      int d = mean.length;
      double[][] c = new double[d][d];
      for (int i = 0; i < d; i++) {
        for (int k = 0; k < d; k++) {
          c[i][k] = second[i][k] - mean[i] * mean[k];
        }
      }
      return c;
    }
  }

  /** S and the mean of {@code layer}; fresh arrays. */
  public Layer layer(int layer) {
    return new Layer(moments(layer), mean(layer));
  }

  /** Mean input {@code E[x]} of {@code layer}, {@code [d]}; a fresh array. */
  public double[] mean(int layer) {
    requireTokens(layer);
    double[] out = first[layer].clone();
    for (int i = 0; i < hidden; i++) {
      out[i] /= count[layer];
    }
    return out;
  }

  /** S of {@code layer}, {@code [d][d]}; a fresh array. */
  public double[][] moments(int layer) {
    requireTokens(layer);
    double[][] out = new double[hidden][];
    for (int i = 0; i < hidden; i++) {
      out[i] = sum[layer][i].clone();
      for (int j = 0; j < hidden; j++) {
        out[i][j] /= count[layer];
      }
    }
    return out;
  }

  private void requireTokens(int layer) {
    if (count[layer] == 0) {
      throw new IllegalStateException("no calibration tokens reached layer " + layer);
    }
  }

  public long tokens(int layer) {
    return count[layer];
  }
}
