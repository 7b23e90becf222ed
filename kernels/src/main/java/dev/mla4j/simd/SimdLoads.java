package dev.mla4j.simd;

import static dev.mla4j.simd.SimdConstants.FLOATS;
import static dev.mla4j.simd.SimdConstants.INTS;
import static dev.mla4j.simd.SimdConstants.LANES;
import static dev.mla4j.simd.SimdConstants.ORDER;
import static dev.mla4j.simd.SimdConstants.SHORTS;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Loads that widen F32/BF16/F16 storage to float vectors. BF16 widens in registers (16-bit lanes
 * sign-extended to int, shifted left 16, reinterpreted as float). JDK 25's Vector API has no
 * binary16 conversion (S2F converts integer values), so F16 goes through
 * {@link Float#float16ToFloat} one lane at a time into a small float array.
 */
final class SimdLoads {
  private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

  private SimdLoads() {}

  /**
   * {@link SimdConstants#LANES} elements of {@code seg} from element {@code index}, widened.
   *
   * @param f16 scratch of at least LANES floats, used only for F16
   */
  static FloatVector load(MemorySegment seg, long index, DType dtype, float[] f16) {
    // if-chain rather than an enum switch, and the F16 lane loop out of line: keeps this small
    // enough to inline into the micro-kernels. Every branch ends in a Vector API intrinsic so
    // the merged result stays in a register instead of being boxed.
    if (dtype == DType.BF16) {
      return bf16(seg, index);
    }
    if (dtype == DType.F32) {
      return FloatVector.fromMemorySegment(FLOATS, seg, index * 4, ORDER);
    }
    f16(seg, index, f16);
    return FloatVector.fromArray(FLOATS, f16, 0);
  }

  private static void f16(MemorySegment seg, long index, float[] dst) {
    for (int i = 0; i < LANES; i++) {
      dst[i] = Float.float16ToFloat(seg.getAtIndex(SHORT, index + i));
    }
  }

  /** LANES bfloat16 values of {@code seg} from element {@code index}, widened in registers. */
  static FloatVector bf16(MemorySegment seg, long index) {
    ShortVector s = ShortVector.fromMemorySegment(SHORTS, seg, index * 2, ORDER);
    IntVector i = (IntVector) s.convertShape(VectorOperators.S2I, INTS, 0);
    return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
  }

  /** The low 16 bits of each int lane (the even BF16 of a little-endian pair), widened. */
  static FloatVector low(IntVector pairs) {
    return pairs.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
  }

  /** The high 16 bits of each int lane (the odd BF16 of a little-endian pair), widened. */
  static FloatVector high(IntVector pairs) {
    return pairs.and(0xffff0000).reinterpretAsFloats();
  }

  /**
   * Widens rows {@code [row0, row0+n)} of {@code t}, columns {@code [0, width)}, into rows of
   * {@code dst} {@code dstStride} floats apart, zero-padded. Rows of a dense BF16 block that
   * need no padding are one run, widened in one flat loop: row by row, the per-row set-up made a
   * 64 x 512 block held in cache 20% slower to widen (8.0 against 6.6 us, 2-core AMD EPYC).
   */
  static void widenRows(Tensor t, int row0, int n, int width, float[] dst, int dstStride) {
    if (t.dtype() == DType.BF16 && t.rowStride() == width && dstStride == width) {
      widenBf16(t.data(), t.index(row0, 0), n * width, dst, 0);
      return;
    }
    for (int r = 0; r < n; r++) {
      widen(t, row0 + r, 0, width, dst, r * dstStride, dstStride);
    }
  }

  /** Widens {@code count} BF16 values from element {@code index} of {@code seg} into dst. */
  static void widenBf16(MemorySegment seg, long index, int count, float[] dst, int off) {
    int i = 0;
    for (int bound = FLOATS.loopBound(count); i < bound; i += LANES) {
      bf16(seg, index + i).intoArray(dst, off + i);
    }
    for (; i < count; i++) {
      dst[off + i] = DType.BF16.get(seg, index + i);
    }
  }

  /**
   * Widens {@code n} elements of row {@code row} of {@code t} from column {@code col} into
   * {@code dst[off, off+n)} and zeroes {@code dst[off+n, off+padded)}, so kernels can run whole
   * vectors over the padded length.
   */
  static void widen(Tensor t, int row, int col, int n, float[] dst, int off, int padded) {
    MemorySegment seg = t.data();
    long base = t.index(row, col);
    DType dtype = t.dtype();
    int i = 0;
    if (dtype != DType.F16) {
      for (int bound = FLOATS.loopBound(n); i < bound; i += LANES) {
        load(seg, base + i, dtype, null).intoArray(dst, off + i);
      }
    }
    for (; i < n; i++) {
      dst[off + i] = dtype.get(seg, base + i);
    }
    Arrays.fill(dst, off + n, off + padded, 0f);
  }
}
