package dev.mla4j.simd;

import static dev.mla4j.simd.SimdConstants.BYTES;
import static dev.mla4j.simd.SimdConstants.INTS;
import static dev.mla4j.simd.SimdConstants.ORDER;

import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Loads of quantized cache codes ({@link QuantizedLayout}) into float vectors, in registers:
 * LANES signed bytes are sign-extended to int lanes; int8 converts them to float, int4 splits
 * each byte into its low nibble ({@code <<28 >>28}, the group's first half) and high nibble
 * ({@code >>4}, the second half). Scales are applied by the caller. Scalar helpers decode single
 * codes for tails.
 */
final class SimdQuantLoads {
  private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

  private SimdQuantLoads() {}

  /** LANES signed bytes from byte {@code off} of {@code seg}, sign-extended to int lanes. */
  static IntVector bytes(MemorySegment seg, long off) {
    return (IntVector) ByteVector.fromMemorySegment(BYTES, seg, off, ORDER)
        .convertShape(VectorOperators.B2I, INTS, 0);
  }

  /** LANES int8 codes from byte {@code off}, as floats. */
  static FloatVector int8(MemorySegment seg, long off) {
    return (FloatVector) bytes(seg, off).convert(VectorOperators.I2F, 0);
  }

  /**
   * The low nibbles of LANES int4 bytes from byte {@code off}: elements j.. of the group's first
   * half. Loads its own bytes (as {@link #highNibbles} does, an L1 hit) rather than taking an
   * IntVector argument: a vector passed between two calls was boxed on every call (46 MB per
   * decode step), one loaded and converted inside an inlined method stays in registers.
   */
  static FloatVector lowNibbles(MemorySegment seg, long off) {
    return (FloatVector) bytes(seg, off).lanewise(VectorOperators.LSHL, 28)
        .lanewise(VectorOperators.ASHR, 28).convert(VectorOperators.I2F, 0);
  }

  /** The high nibbles of LANES int4 bytes from byte {@code off}: elements j + ceil(m/2).. */
  static FloatVector highNibbles(MemorySegment seg, long off) {
    return (FloatVector) bytes(seg, off).lanewise(VectorOperators.ASHR, 4)
        .convert(VectorOperators.I2F, 0);
  }

  /**
   * Code of element {@code e} of a group of {@code m} elements whose codes start at byte
   * {@code group} (one lane of the loads above, for tails).
   */
  static int code(MemorySegment seg, long group, int e, int m, boolean int4) {
    if (!int4) {
      return seg.get(ValueLayout.JAVA_BYTE, group + e);
    }
    int half = (m + 1) / 2;
    int b = seg.get(ValueLayout.JAVA_BYTE, group + (e < half ? e : e - half));
    return e < half ? (b << 28) >> 28 : b >> 4;
  }

  /** Scale {@code index} of the row whose scales start at byte {@code row}. */
  static float scale(MemorySegment seg, long row, int index) {
    return DType.bf16ToFloat(seg.get(SHORT, row + 2L * index));
  }
}
