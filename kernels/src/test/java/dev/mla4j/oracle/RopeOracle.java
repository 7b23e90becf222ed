package dev.mla4j.oracle;

/**
 * RoPE in double, written from the Hugging Face transformers formulas
 * ({@code _compute_default/linear/llama3/yarn_rope_parameters} and {@code rotate_half}).
 */
public final class RopeOracle {
  private RopeOracle() {}

  /** θ_i = theta^(-2i/dim), i in [0, dim/2). */
  public static double[] defaultInvFreq(int dim, double theta) {
    double[] inv = new double[dim / 2];
    for (int i = 0; i < inv.length; i++) {
      inv[i] = 1.0 / Math.pow(theta, 2.0 * i / dim);
    }
    return inv;
  }

  /** Position interpolation: every frequency divided by the factor. */
  public static double[] linearInvFreq(int dim, double theta, double factor) {
    double[] inv = defaultInvFreq(dim, theta);
    for (int i = 0; i < inv.length; i++) {
      inv[i] /= factor;
    }
    return inv;
  }

  /**
   * Llama 3.1: wavelengths longer than original/low keep θ/factor, shorter than original/high
   * keep θ, in between a linear blend in (original/wavelength).
   */
  public static double[] llama3InvFreq(int dim, double theta, double factor, double lowFreqFactor,
      double highFreqFactor, int originalMax) {
    double[] inv = defaultInvFreq(dim, theta);
    double lowFreqWavelen = originalMax / lowFreqFactor;
    double highFreqWavelen = originalMax / highFreqFactor;
    for (int i = 0; i < inv.length; i++) {
      double wavelen = 2 * Math.PI / inv[i];
      if (wavelen > lowFreqWavelen) {
        inv[i] = inv[i] / factor;
      } else if (wavelen >= highFreqWavelen) {
        double smooth = (originalMax / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
      }
    }
    return inv;
  }

  /** YaRN "NTK-by-parts": extrapolated θ below the correction range, θ/factor above, ramp between. */
  public static double[] yarnInvFreq(int dim, double theta, double factor, int originalMax,
      double betaFast, double betaSlow, boolean truncate) {
    double low = correctionDim(betaFast, dim, theta, originalMax);
    double high = correctionDim(betaSlow, dim, theta, originalMax);
    if (truncate) {
      low = Math.floor(low);
      high = Math.ceil(high);
    }
    low = Math.max(low, 0);
    high = Math.min(high, dim - 1);
    if (low == high) {
      high += 0.001;
    }
    double[] inv = new double[dim / 2];
    for (int i = 0; i < inv.length; i++) {
      double posFreq = Math.pow(theta, 2.0 * i / dim);
      double extrapolation = 1.0 / posFreq;
      double interpolation = 1.0 / (factor * posFreq);
      double ramp = Math.clamp((i - low) / (high - low), 0.0, 1.0);
      double extrapolationFactor = 1 - ramp;
      inv[i] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
    }
    return inv;
  }

  private static double correctionDim(double rotations, int dim, double theta, int maxPos) {
    return dim * Math.log(maxPos / (rotations * 2 * Math.PI)) / (2 * Math.log(theta));
  }

  /**
   * YaRN's factor on cos/sin: the explicit attention_factor if given (not NaN), else
   * mscale(factor, mscale)/mscale(factor, mscale_all_dim) when both are set, else mscale(factor, 1).
   */
  public static double yarnAttentionFactor(double factor, double mscale, double mscaleAllDim,
      double explicit) {
    if (!Double.isNaN(explicit)) {
      return explicit;
    }
    if (mscale != 0 && mscaleAllDim != 0) {
      return yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim);
    }
    return yarnMscale(factor, 1);
  }

  private static double yarnMscale(double scale, double m) {
    return scale <= 1 ? 1.0 : 0.1 * m * Math.log(scale) + 1.0;
  }

  /**
   * Partial RoPE on one compact rope vector {@code x [2r]} in place: pair m (elements given by
   * the layout) rotates by {@code pos·invFreq[kept[m]]}, cos/sin times {@code attention}.
   *
   * @param interleaved pair m is (2m, 2m+1) when true, (m, m+r) when false
   */
  public static void partial(double[] x, int offset, int[] kept, double[] invFreq, long pos,
      double attention, boolean interleaved) {
    int r = kept.length;
    for (int m = 0; m < r; m++) {
      int a = offset + (interleaved ? 2 * m : m);
      int b = offset + (interleaved ? 2 * m + 1 : m + r);
      double angle = pos * invFreq[kept[m]];
      double cos = Math.cos(angle) * attention;
      double sin = Math.sin(angle) * attention;
      double x1 = x[a];
      double x2 = x[b];
      x[a] = x1 * cos - x2 * sin;
      x[b] = x2 * cos + x1 * sin;
    }
  }

  /**
   * Full RoPE on one whole head {@code [d_h]} in the Hugging Face half layout, literally
   * {@code x·cos + rotate_half(x)·sin} with {@code cos = cat(cos θ·pos, cos θ·pos)}.
   */
  public static double[] fullHead(double[] head, double[] invFreq, long pos, double attention) {
    int dim = head.length;
    int half = dim / 2;
    double[] rotated = new double[dim];
    for (int i = 0; i < half; i++) {
      rotated[i] = -head[i + half];
      rotated[i + half] = head[i];
    }
    double[] out = new double[dim];
    for (int i = 0; i < dim; i++) {
      double angle = pos * invFreq[i % half];
      out[i] = head[i] * Math.cos(angle) * attention + rotated[i] * Math.sin(angle) * attention;
    }
    return out;
  }
}
