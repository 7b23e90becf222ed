package dev.mla4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A 2-D row-major view of off-heap memory: {@code rows x cols} elements of {@code dtype}, row
 * {@code i} starting {@code i * rowStride} elements after {@code data}'s start. Views of views
 * share memory; nothing is copied.
 *
 * <p>Kernels take every operand as a Tensor, so head blocks, single tokens and strided slices of
 * a larger activation buffer are all passed without copies.
 */
public record Tensor(MemorySegment data, DType dtype, int rows, int cols, long rowStride) {

  public Tensor {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(dtype, "dtype");
    if (rows < 0 || cols < 0 || rowStride < cols) {
      throw new IllegalArgumentException(
          "bad tensor geometry: rows=" + rows + " cols=" + cols + " rowStride=" + rowStride);
    }
    long needed = rows == 0 ? 0 : ((rows - 1) * rowStride + cols) * dtype.bytes();
    if (needed > data.byteSize()) {
      throw new IllegalArgumentException(
          "tensor [" + rows + "][" + cols + "] " + dtype + " (row stride " + rowStride + ") needs "
              + needed + " bytes but its segment has " + data.byteSize());
    }
  }

  /** A dense {@code [rows][cols]} tensor over {@code data}. */
  public static Tensor of(MemorySegment data, DType dtype, int rows, int cols) {
    return new Tensor(data, dtype, rows, cols, cols);
  }

  /** Allocates a dense, 64-byte aligned, zeroed {@code [rows][cols]} tensor in {@code arena}. */
  public static Tensor allocate(Arena arena, DType dtype, int rows, int cols) {
    MemorySegment seg = arena.allocate(Math.max(1L, (long) rows * cols * dtype.bytes()), 64);
    return of(seg, dtype, rows, cols);
  }

  /** Copies {@code values} (row-major {@code [rows][cols]}) into a new tensor of {@code dtype}. */
  public static Tensor copyOf(Arena arena, DType dtype, int rows, int cols, float[] values) {
    if (values.length != rows * cols) {
      throw new IllegalArgumentException(
          "expected " + rows * cols + " values for [" + rows + "][" + cols + "], got " + values.length);
    }
    Tensor t = allocate(arena, dtype, rows, cols);
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        t.set(i, j, values[i * cols + j]);
      }
    }
    return t;
  }

  public long index(int row, int col) {
    return row * rowStride + col;
  }

  /** Byte offset of element (row, col) in {@link #data()}. */
  public long offset(int row, int col) {
    return index(row, col) * dtype.bytes();
  }

  public float get(int row, int col) {
    return dtype.get(data, index(row, col));
  }

  public void set(int row, int col, float v) {
    dtype.set(data, index(row, col), v);
  }

  /** Rows {@code [from, from + count)} as a view. */
  public Tensor rows(int from, int count) {
    Objects.checkFromIndexSize(from, count, rows);
    if (count == 0) {
      return new Tensor(data.asSlice(0, 0), dtype, 0, cols, rowStride);
    }
    return new Tensor(data.asSlice(offset(from, 0)), dtype, count, cols, rowStride);
  }

  public Tensor row(int row) {
    return rows(row, 1);
  }

  /**
   * Every {@code step}-th row starting at {@code first} as a view, e.g. head h's rows of a
   * {@code [T·n_h][d]} buffer are {@code strided(h, n_h)}.
   */
  public Tensor strided(int first, int step) {
    if (step <= 0 || first < 0 || first >= step || first >= rows) {
      throw new IllegalArgumentException(
          "strided(" + first + ", " + step + ") of a tensor with " + rows + " rows");
    }
    int count = (rows - first + step - 1) / step;
    return new Tensor(data.asSlice(offset(first, 0)), dtype, count, cols, rowStride * step);
  }

  /** Columns {@code [from, from + count)} of every row as a view. */
  public Tensor cols(int from, int count) {
    Objects.checkFromIndexSize(from, count, cols);
    return new Tensor(data.asSlice((long) from * dtype.bytes()), dtype, rows, count, rowStride);
  }

  /**
   * Reinterprets each row of width {@code groups * width} as {@code groups} rows of {@code width}
   * (e.g. {@code [T][n_h·d_r]} as {@code [T·n_h][d_r]}). Needs dense rows.
   */
  public Tensor splitRows(int width) {
    if (width <= 0 || cols % width != 0) {
      throw new IllegalArgumentException("cannot split rows of " + cols + " into width " + width);
    }
    if (rows > 1 && rowStride != cols) {
      throw new IllegalArgumentException("splitRows needs dense rows, row stride is " + rowStride);
    }
    return new Tensor(data, dtype, rows * (cols / width), width, width);
  }

  /** Row-major copy as floats, mainly for tests and reports. */
  public float[] toFloatArray() {
    float[] out = new float[rows * cols];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        out[i * cols + j] = get(i, j);
      }
    }
    return out;
  }

  public String shape() {
    return "[" + rows + "][" + cols + "] " + dtype;
  }

  /** Throws an {@link IllegalArgumentException} naming {@code what} unless the shape matches. */
  public Tensor require(String what, int rows, int cols) {
    if (this.rows != rows || this.cols != cols) {
      throw new IllegalArgumentException(
          what + " must be [" + rows + "][" + cols + "] but is " + shape());
    }
    return this;
  }

  /** As {@link #require(String, int, int)}, also checking the dtype is F32 (activations). */
  public Tensor requireF32(String what, int rows, int cols) {
    require(what, rows, cols);
    if (dtype != DType.F32) {
      throw new IllegalArgumentException(what + " must be F32 (activations), is " + dtype);
    }
    return this;
  }
}
