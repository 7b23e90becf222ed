package dev.mla4j.rope;

/**
 * Inverse frequencies {@code θ_i} of the {@code F = d_h/2} RoPE pairs of a head after rope
 * scaling, and the factor that multiplies cos/sin (YaRN's attention factor, 1 otherwise).
 * Follows Hugging Face transformers' rope initialisation functions.
 */
public record RopeFrequencies(float[] invFreq, float attentionFactor) {

  /** Number of frequency pairs F. */
  public int pairs() {
    return invFreq.length;
  }

  /**
   * @param headDim rotary dims d_h (even)
   * @param theta rope_theta β
   */
  public static RopeFrequencies of(int headDim, double theta, RopeScaling scaling) {
    if (headDim <= 0 || headDim % 2 != 0) {
      throw new IllegalArgumentException("RoPE head dim must be even and positive, got " + headDim);
    }
    if (!(theta > 1)) {
      throw new IllegalArgumentException("rope_theta must be > 1, got " + theta);
    }
    int f = headDim / 2;
    double[] base = new double[f];
    for (int i = 0; i < f; i++) {
      base[i] = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
    }
    double attention = 1.0;
    double[] inv = switch (scaling.type()) {
      case DEFAULT -> base;
      case LINEAR -> scaleAll(base, 1 / scaling.factor());
      case LLAMA3 -> llama3(base, scaling);
      case YARN -> {
        attention = yarnAttentionFactor(scaling);
        yield yarn(base, headDim, theta, scaling);
      }
    };
    float[] out = new float[f];
    for (int i = 0; i < f; i++) {
      out[i] = (float) inv[i];
    }
    return new RopeFrequencies(out, (float) attention);
  }

  private static double[] scaleAll(double[] v, double s) {
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i] * s;
    }
    return out;
  }

  private static double[] llama3(double[] base, RopeScaling s) {
    double lowWavelen = s.originalMaxPositions() / s.lowFreqFactor();
    double highWavelen = s.originalMaxPositions() / s.highFreqFactor();
    double[] out = new double[base.length];
    for (int i = 0; i < base.length; i++) {
      double wavelen = 2 * Math.PI / base[i];
      if (wavelen < highWavelen) {
        out[i] = base[i];
      } else if (wavelen > lowWavelen) {
        out[i] = base[i] / s.factor();
      } else {
        double smooth = (s.originalMaxPositions() / wavelen - s.lowFreqFactor())
            / (s.highFreqFactor() - s.lowFreqFactor());
        out[i] = (1 - smooth) * base[i] / s.factor() + smooth * base[i];
      }
    }
    return out;
  }

  private static double yarnMscale(double scale, double mscale) {
    return scale <= 1 ? 1.0 : 0.1 * mscale * Math.log(scale) + 1.0;
  }

  static double yarnAttentionFactor(RopeScaling s) {
    if (!Double.isNaN(s.attentionFactor())) {
      return s.attentionFactor();
    }
    if (s.mscale() != 0 && s.mscaleAllDim() != 0) {
      return yarnMscale(s.factor(), s.mscale()) / yarnMscale(s.factor(), s.mscaleAllDim());
    }
    return yarnMscale(s.factor(), 1);
  }

  private static double correctionDim(double rotations, int dim, double theta, int maxPos) {
    return dim * Math.log(maxPos / (rotations * 2 * Math.PI)) / (2 * Math.log(theta));
  }

  private static double[] yarn(double[] base, int dim, double theta, RopeScaling s) {
    double low = correctionDim(s.betaFast(), dim, theta, s.originalMaxPositions());
    double high = correctionDim(s.betaSlow(), dim, theta, s.originalMaxPositions());
    if (s.truncate()) {
      low = Math.floor(low);
      high = Math.ceil(high);
    }
    low = Math.max(low, 0);
    high = Math.min(high, dim - 1);
    if (low == high) {
      high += 0.001;
    }
    double[] out = new double[base.length];
    for (int i = 0; i < base.length; i++) {
      double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
      double extrapolation = 1 - ramp;
      double interpolated = base[i] / s.factor();
      out[i] = interpolated * (1 - extrapolation) + base[i] * extrapolation;
    }
    return out;
  }
}
