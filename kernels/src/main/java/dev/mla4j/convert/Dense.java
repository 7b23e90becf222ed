package dev.mla4j.convert;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Small dense helpers of the conversion: copies between tensors and double arrays, transposes. */
final class Dense {
  private Dense() {}

  static double[][] toDouble(Tensor t) {
    double[][] out = new double[t.rows()][t.cols()];
    for (int i = 0; i < t.rows(); i++) {
      for (int j = 0; j < t.cols(); j++) {
        out[i][j] = t.get(i, j);
      }
    }
    return out;
  }

  /** {@code a} as a dense tensor of {@code dtype}; {@code transpose} stores aᵀ. */
  static Tensor toTensor(Arena arena, DType dtype, double[][] a, boolean transpose) {
    int rows = transpose ? a[0].length : a.length;
    int cols = transpose ? a.length : a[0].length;
    Tensor t = Tensor.allocate(arena, dtype, rows, cols);
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[i].length; j++) {
        if (transpose) {
          t.set(j, i, (float) a[i][j]);
        } else {
          t.set(i, j, (float) a[i][j]);
        }
      }
    }
    return t;
  }

  /** A dense F32 copy of {@code t}ᵀ. */
  static Tensor transpose(Arena arena, Tensor t) {
    return transpose(arena, t, DType.F32);
  }

  /** A dense copy of {@code t}ᵀ in {@code dtype}. */
  static Tensor transpose(Arena arena, Tensor t, DType dtype) {
    Tensor out = Tensor.allocate(arena, dtype, t.cols(), t.rows());
    transposeInto(t, out);
    return out;
  }

  /** {@code dst = src}ᵀ; dst must be {@code [src.cols][src.rows]}. */
  static void transposeInto(Tensor src, Tensor dst) {
    assert dst.rows() == src.cols() && dst.cols() == src.rows();
    // 64x64 blocks keep both the read and the write side in cache
    for (int i0 = 0; i0 < src.rows(); i0 += 64) {
      int i1 = Math.min(src.rows(), i0 + 64);
      for (int j0 = 0; j0 < src.cols(); j0 += 64) {
        int j1 = Math.min(src.cols(), j0 + 64);
        for (int i = i0; i < i1; i++) {
          for (int j = j0; j < j1; j++) {
            dst.set(j, i, src.get(i, j));
          }
        }
      }
    }
  }

  /** A dense copy of {@code t} in {@code dtype}. */
  static Tensor copy(Arena arena, Tensor t, DType dtype) {
    Tensor out = Tensor.allocate(arena, dtype, t.rows(), t.cols());
    copyInto(t, out);
    return out;
  }

  static void copyInto(Tensor src, Tensor dst) {
    if (src.dtype() == dst.dtype() && src.rowStride() == src.cols() && dst.rowStride() == dst.cols()) {
      MemorySegment.copy(src.data(), 0, dst.data(), 0, (long) src.rows() * src.cols() * src.dtype().bytes());
      return;
    }
    for (int i = 0; i < src.rows(); i++) {
      for (int j = 0; j < src.cols(); j++) {
        dst.set(i, j, src.get(i, j));
      }
    }
  }

  /** Multiplies row i of {@code t} by {@code scale[i]}. */
  static void scaleRows(Tensor t, double[] scale) {
    for (int i = 0; i < t.rows(); i++) {
      for (int j = 0; j < t.cols(); j++) {
        t.set(i, j, (float) (t.get(i, j) * scale[i]));
      }
    }
  }

  /** {@code (a + aᵀ) / 2} of a square matrix, a fresh array. */
  static double[][] symmetrized(double[][] a) {
    int n = a.length;
    double[][] out = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        out[i][j] = 0.5 * (a[i][j] + a[j][i]);
      }
    }
    return out;
  }
}
