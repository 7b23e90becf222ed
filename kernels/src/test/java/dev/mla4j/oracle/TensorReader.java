package dev.mla4j.oracle;

import dev.mla4j.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The one bridge between the library's tensors and the oracle: reads a tensor's elements straight
 * from its memory into a row-major {@code double[]}, decoding BF16/F16 bits here rather than
 * through {@code DType}, so the oracle sees exactly the stored values and shares no code with the
 * code under test.
 */
public final class TensorReader {
  private TensorReader() {}

  /** {@code t [rows][cols]} as a dense row-major array. */
  public static double[] read(Tensor t) {
    double[] out = new double[t.rows() * t.cols()];
    MemorySegment seg = t.data();
    for (int r = 0; r < t.rows(); r++) {
      for (int c = 0; c < t.cols(); c++) {
        long element = r * t.rowStride() + c;
        out[r * t.cols() + c] = switch (t.dtype()) {
          case F32 -> seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED, element * 4);
          case BF16 -> Float.intBitsToFloat(
              (seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, element * 2) & 0xffff) << 16);
          case F16 -> Float.float16ToFloat(seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, element * 2));
        };
      }
    }
    return out;
  }

  /** The first {@code rows} rows of {@code t}. */
  public static double[] read(Tensor t, int rows) {
    return read(t.rows(0, rows));
  }

  public static double[] widen(float[] v) {
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i];
    }
    return out;
  }
}
