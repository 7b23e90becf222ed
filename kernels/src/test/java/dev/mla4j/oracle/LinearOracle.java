package dev.mla4j.oracle;

/** Matrix products in double, row-major arrays. */
public final class LinearOracle {
  private LinearOracle() {}

  /** {@code y = x Wᵀ}: x {@code [T][in]}, w {@code [out][in]} → {@code [T][out]}. */
  public static double[] linear(double[] x, double[] w, int tokens, int in, int out) {
    double[] y = new double[tokens * out];
    for (int t = 0; t < tokens; t++) {
      for (int o = 0; o < out; o++) {
        double s = 0;
        for (int i = 0; i < in; i++) {
          s += x[t * in + i] * w[o * in + i];
        }
        y[t * out + o] = s;
      }
    }
    return y;
  }

  /** {@code y = x W}: x {@code [T][out]}, w {@code [out][in]} → {@code [T][in]}. */
  public static double[] linearTransposed(double[] x, double[] w, int tokens, int out, int in) {
    double[] y = new double[tokens * in];
    for (int t = 0; t < tokens; t++) {
      for (int i = 0; i < in; i++) {
        double s = 0;
        for (int o = 0; o < out; o++) {
          s += x[t * out + o] * w[o * in + i];
        }
        y[t * in + i] = s;
      }
    }
    return y;
  }

  /**
   * The typical size of an output of {@code y = x Wᵀ} before cancellation: the largest
   * {@code sqrt(Σ_i (x[t][i]·w[o][i])²)} over all outputs. Rounding errors scale with this, not
   * with |y|.
   */
  public static double termNorm(double[] x, double[] w, int tokens, int in, int out) {
    double max = 0;
    for (int t = 0; t < tokens; t++) {
      for (int o = 0; o < out; o++) {
        double s = 0;
        for (int i = 0; i < in; i++) {
          double p = x[t * in + i] * w[o * in + i];
          s += p * p;
        }
        max = Math.max(max, Math.sqrt(s));
      }
    }
    return max;
  }

  /** As {@link #termNorm} for {@code y = x W}. */
  public static double termNormTransposed(double[] x, double[] w, int tokens, int out, int in) {
    double max = 0;
    for (int t = 0; t < tokens; t++) {
      for (int i = 0; i < in; i++) {
        double s = 0;
        for (int o = 0; o < out; o++) {
          double p = x[t * out + o] * w[o * in + i];
          s += p * p;
        }
        max = Math.max(max, Math.sqrt(s));
      }
    }
    return max;
  }
}
