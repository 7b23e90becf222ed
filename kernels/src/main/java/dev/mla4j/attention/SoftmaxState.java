package dev.mla4j.attention;

import dev.mla4j.tensor.Tensor;
import java.util.Arrays;

/**
 * Online-softmax state of a block of query rows over part of a cached sequence, in F32:
 * per row the running max {@code m} of the scaled scores, {@code l = Σ exp(s - m)} and
 * {@code acc = Σ exp(s - m) · value}. States over disjoint key ranges merge exactly
 * (log-sum-exp), which is how split-KV decode combines threads.
 */
public final class SoftmaxState {
  public final int rows;
  public final int width;
  /** Running max per row; -inf before any key was seen. {@code [rows]} */
  public final float[] max;
  /** Σ exp(s - max) per row. {@code [rows]} */
  public final float[] sum;
  /** Σ exp(s - max) · value per row. {@code [rows][width]} */
  public final float[] acc;

  public SoftmaxState(int rows, int width) {
    this.rows = rows;
    this.width = width;
    this.max = new float[rows];
    this.sum = new float[rows];
    this.acc = new float[rows * width];
    reset();
  }

  public void reset() {
    Arrays.fill(max, Float.NEGATIVE_INFINITY);
    Arrays.fill(sum, 0f);
    Arrays.fill(acc, 0f);
  }

  /** Folds {@code other} (same rows, a disjoint key range) into this state. */
  public void merge(SoftmaxState other) {
    for (int i = 0; i < rows; i++) {
      float m = Math.max(max[i], other.max[i]);
      if (m == Float.NEGATIVE_INFINITY) {
        continue;
      }
      float a = (float) Math.exp(max[i] - m);
      float b = (float) Math.exp(other.max[i] - m);
      sum[i] = sum[i] * a + other.sum[i] * b;
      int base = i * width;
      for (int c = 0; c < width; c++) {
        acc[base + c] = acc[base + c] * a + other.acc[base + c] * b;
      }
      max[i] = m;
    }
  }

  /** Writes {@code acc / sum} row by row into {@code out [rows][width]}. */
  public void writeNormalized(Tensor out) {
    for (int i = 0; i < rows; i++) {
      float inv = sum[i] > 0 ? 1f / sum[i] : 0f;
      int base = i * width;
      for (int c = 0; c < width; c++) {
        out.set(i, c, acc[base + c] * inv);
      }
    }
  }
}
