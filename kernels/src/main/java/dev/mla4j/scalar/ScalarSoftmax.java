package dev.mla4j.scalar;

import dev.mla4j.attention.SoftmaxState;

/** One online-softmax step shared by the scalar MLA and MHA kernels. */
final class ScalarSoftmax {
  private ScalarSoftmax() {}

  /** Folds one key with scaled score {@code s} and value {@code v} into row {@code row}. */
  static void accumulate(SoftmaxState st, int row, float s, float[] v) {
    int base = row * st.width;
    if (s > st.max[row]) {
      float rescale = (float) Math.exp(st.max[row] - s);
      st.sum[row] *= rescale;
      for (int i = 0; i < st.width; i++) {
        st.acc[base + i] *= rescale;
      }
      st.max[row] = s;
    }
    float p = (float) Math.exp(s - st.max[row]);
    st.sum[row] += p;
    for (int i = 0; i < st.width; i++) {
      st.acc[base + i] += p * v[i];
    }
  }
}
