package dev.mla4j.scalar;

import dev.mla4j.tensor.Tensor;

/** Plain-Java matrix products, F32 accumulation. */
final class ScalarLinear {
  private ScalarLinear() {}

  /** {@code y[t][o] = Σ_i x[t][i]·w[o][i]}: x {@code [T][in]}, w {@code [out][in]}, y {@code [T][out]}. */
  static void linear(Tensor x, Tensor w, Tensor y) {
    float[] row = new float[w.cols()];
    for (int o = 0; o < w.rows(); o++) {
      for (int i = 0; i < row.length; i++) {
        row[i] = w.get(o, i);
      }
      for (int t = 0; t < x.rows(); t++) {
        float sum = 0;
        for (int i = 0; i < row.length; i++) {
          sum += x.get(t, i) * row[i];
        }
        y.set(t, o, sum);
      }
    }
  }

  /** {@code y[t][i] = Σ_o x[t][o]·w[o][i]}: x {@code [T][out]}, w {@code [out][in]}, y {@code [T][in]}. */
  static void linearTransposed(Tensor x, Tensor w, Tensor y) {
    float[] acc = new float[w.cols()];
    for (int t = 0; t < x.rows(); t++) {
      java.util.Arrays.fill(acc, 0f);
      for (int o = 0; o < w.rows(); o++) {
        float xo = x.get(t, o);
        for (int i = 0; i < acc.length; i++) {
          acc[i] += xo * w.get(o, i);
        }
      }
      for (int i = 0; i < acc.length; i++) {
        y.set(t, i, acc[i]);
      }
    }
  }
}
