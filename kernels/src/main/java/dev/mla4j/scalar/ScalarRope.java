package dev.mla4j.scalar;

import dev.mla4j.rope.PairLayout;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.tensor.Tensor;

/** Partial RoPE on compact rope vectors, one pair at a time (spec 2.4). */
final class ScalarRope {
  private ScalarRope() {}

  /** x {@code [T][heads·d_r]}; head h uses kv head h / groupSize's kept pairs. */
  static void apply(Tensor x, int[] positions, PartialRope rope, int layer, int groupSize) {
    int r = rope.pairs();
    int dr = 2 * r;
    int heads = x.cols() / dr;
    PairLayout layout = rope.layout();
    float attention = rope.attentionFactor();
    for (int t = 0; t < x.rows(); t++) {
      for (int h = 0; h < heads; h++) {
        float[] invFreq = rope.keptInvFreq(layer, h / groupSize);
        int base = h * dr;
        for (int m = 0; m < r; m++) {
          // angle in float32 as Hugging Face computes it (inv_freq · position), cos/sin rounded
          float angle = positions[t] * invFreq[m];
          float cos = (float) Math.cos(angle) * attention;
          float sin = (float) Math.sin(angle) * attention;
          int a = base + layout.first(m, r);
          int b = base + layout.second(m, r);
          float x1 = x.get(t, a);
          float x2 = x.get(t, b);
          x.set(t, a, x1 * cos - x2 * sin);
          x.set(t, b, x2 * cos + x1 * sin);
        }
      }
    }
  }
}
