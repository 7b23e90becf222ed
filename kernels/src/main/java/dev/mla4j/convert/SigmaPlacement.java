package dev.mla4j.convert;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;

/**
 * Where the singular values of {@code M ≈ U diag(σ) Vᵀ} go when it is split into an up factor
 * {@code [m][k]} and a down factor {@code [k][n]} (spec 3.2 and 10 item 1). The product is the same;
 * the latent {@code c = W_down x} differs in scale, which matters for cache quantization.
 */
public enum SigmaPlacement {
  /** The paper: {@code W_up = U Σ^{1/2}}, {@code W_down = Σ^{1/2} Vᵀ}. */
  SQRT_BOTH,
  /** The reference code (released checkpoints): {@code W_up = U Σ}, {@code W_down = Vᵀ}. */
  UP;

  /** The two factors. */
  public record Factors(Tensor up, Tensor down) {}

  /** Splits {@code s} into up and down factors stored in {@code dtype}. */
  public Factors split(Svd s, DType dtype, Arena arena) {
    int k = s.rank();
    double[] upScale = new double[k];
    double[] downScale = new double[k];
    for (int c = 0; c < k; c++) {
      double sigma = s.sigma()[c];
      upScale[c] = this == UP ? sigma : Math.sqrt(sigma);
      downScale[c] = this == UP ? 1 : Math.sqrt(sigma);
    }
    Tensor up = Tensor.allocate(arena, dtype, s.u().rows(), k);
    for (int i = 0; i < up.rows(); i++) {
      for (int c = 0; c < k; c++) {
        up.set(i, c, (float) (s.u().get(i, c) * upScale[c]));
      }
    }
    Tensor down = Tensor.allocate(arena, dtype, k, s.vt().cols());
    for (int c = 0; c < k; c++) {
      for (int j = 0; j < down.cols(); j++) {
        down.set(c, j, (float) (s.vt().get(c, j) * downScale[c]));
      }
    }
    return new Factors(up, down);
  }

  /** {@code sqrt} or {@code up}, the names used in configs. */
  public String configName() {
    return this == UP ? "up" : "sqrt";
  }
}
