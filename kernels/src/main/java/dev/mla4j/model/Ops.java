package dev.mla4j.model;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The small element-wise steps of a decoder layer. They are O(T·d) against the O(T·d²) of the
 * projections, so they stay plain loops (no SIMD).
 */
final class Ops {
  private Ops() {}

  /** {@code x[t] = table[tokens[t]]} widened to F32. x {@code [T][d]}, table {@code [vocab][d]}. */
  static void embed(Tensor table, int[] tokens, Tensor x) {
    for (int t = 0; t < tokens.length; t++) {
      int id = tokens[t];
      if (id < 0 || id >= table.rows()) {
        throw new IllegalArgumentException("token id " + id + " at position " + t
            + " outside the vocabulary [0, " + table.rows() + ")");
      }
      for (int i = 0; i < x.cols(); i++) {
        x.set(t, i, table.get(id, i));
      }
    }
  }

  /**
   * RMSNorm as Hugging Face Llama computes it: {@code y = w · (x / sqrt(mean(x²) + eps))}, the
   * mean of squares accumulated in double.
   *
   * @param x {@code [T][d]}, y {@code [T][d]} (may be x), w {@code [1][d]}
   */
  static void rmsNorm(Tensor x, Tensor w, double eps, Tensor y) {
    int d = x.cols();
    for (int t = 0; t < x.rows(); t++) {
      double ss = 0;
      for (int i = 0; i < d; i++) {
        float v = x.get(t, i);
        ss += v * v;
      }
      float inv = (float) (1 / Math.sqrt(ss / d + eps));
      for (int i = 0; i < d; i++) {
        y.set(t, i, w.get(0, i) * (x.get(t, i) * inv));
      }
    }
  }

  /** {@code gate = silu(gate) · up}, element-wise over {@code [T][ffn]}. */
  static void siluMul(Tensor gate, Tensor up) {
    for (int t = 0; t < gate.rows(); t++) {
      for (int i = 0; i < gate.cols(); i++) {
        float g = gate.get(t, i);
        gate.set(t, i, g / (1 + (float) Math.exp(-g)) * up.get(t, i));
      }
    }
  }

  /** {@code x += y}, both {@code [T][n]}. */
  static void add(Tensor x, Tensor y) {
    for (int t = 0; t < x.rows(); t++) {
      for (int i = 0; i < x.cols(); i++) {
        x.set(t, i, x.get(t, i) + y.get(t, i));
      }
    }
  }

  /** Adds bias {@code [1][n]} to every row of {@code x [T][n]}; null means none. */
  static void addBias(Tensor x, Tensor bias) {
    if (bias == null) {
      return;
    }
    for (int t = 0; t < x.rows(); t++) {
      for (int i = 0; i < x.cols(); i++) {
        x.set(t, i, x.get(t, i) + bias.get(0, i));
      }
    }
  }

  /**
   * Gathers rows of {@code w} in the order {@code rows} into a new tensor of the same dtype (a
   * permuted copy of a weight, e.g. a head's kept RoPE dims first).
   */
  static Tensor gatherRows(Arena arena, Tensor w, int[] rows) {
    Tensor out = Tensor.allocate(arena, w.dtype(), rows.length, w.cols());
    long rowBytes = (long) w.cols() * w.dtype().bytes();
    for (int i = 0; i < rows.length; i++) {
      MemorySegment.copy(w.data(), w.offset(rows[i], 0), out.data(), out.offset(i, 0), rowBytes);
    }
    return out;
  }

  /** Natural log of softmax at {@code target} of row {@code t}, in double. */
  static double logProb(Tensor logits, int t, int target) {
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < logits.cols(); i++) {
      max = Math.max(max, logits.get(t, i));
    }
    double sum = 0;
    for (int i = 0; i < logits.cols(); i++) {
      sum += Math.exp(logits.get(t, i) - max);
    }
    return logits.get(t, target) - max - Math.log(sum);
  }

  static Tensor f32(Arena arena, int rows, int cols) {
    return Tensor.allocate(arena, DType.F32, rows, cols);
  }
}
