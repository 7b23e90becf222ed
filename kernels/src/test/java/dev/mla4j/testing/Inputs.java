package dev.mla4j.testing;

import dev.mla4j.oracle.TensorReader;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.function.Consumer;

/** Random tensors for tests, dense or as strided views inside a larger buffer. */
public final class Inputs {
  private Inputs() {}

  /** A dense {@code [rows][cols]} tensor of N(0, std²) values, rounded to {@code dtype}. */
  public static Tensor gaussian(Arena arena, Seeds.Case c, DType dtype, int rows, int cols,
      double std) {
    return Tensor.copyOf(arena, dtype, rows, cols, c.gaussians(rows * cols, std));
  }

  /**
   * A {@code [rows][cols]} view at column {@code lead} of a {@code [rows][cols + lead + trail]}
   * buffer whose other elements are NaN, so a kernel that reads outside its view shows up.
   */
  public static Tensor stridedGaussian(Arena arena, Seeds.Case c, DType dtype, int rows, int cols,
      int lead, int trail, double std) {
    Tensor buffer = nanFilled(arena, dtype, rows, cols + lead + trail);
    Tensor view = buffer.cols(lead, cols);
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        view.set(i, j, c.gaussian(std));
      }
    }
    return view;
  }

  /** A dense tensor filled with NaN, e.g. an output whose every element must be written. */
  public static Tensor nanFilled(Arena arena, DType dtype, int rows, int cols) {
    Tensor t = Tensor.allocate(arena, dtype, rows, cols);
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        t.set(i, j, Float.NaN);
      }
    }
    return t;
  }

  /** A strided NaN-filled view, for outputs written through views. */
  public static Tensor stridedNan(Arena arena, DType dtype, int rows, int cols, int lead,
      int trail) {
    return nanFilled(arena, dtype, rows, cols + lead + trail).cols(lead, cols);
  }

  /**
   * What {@code kernel} writes into a fresh NaN-filled F32 {@code [rows][cols]} output, row-major
   * (an element it leaves unwritten reads as NaN).
   */
  public static float[] written(Arena arena, int rows, int cols, Consumer<Tensor> kernel) {
    Tensor out = nanFilled(arena, DType.F32, rows, cols);
    kernel.accept(out);
    return floats(out);
  }

  /** Row-major copy of a tensor as floats, read through the oracle's bridge. */
  public static float[] floats(Tensor t) {
    double[] d = TensorReader.read(t);
    float[] out = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      out[i] = (float) d[i];
    }
    return out;
  }
}
