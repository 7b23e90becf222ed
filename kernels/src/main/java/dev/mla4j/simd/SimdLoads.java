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
