package dev.mla4j.simd;

import static dev.mla4j.simd.SimdConstants.BYTES;
import static dev.mla4j.simd.SimdConstants.INTS;
import static dev.mla4j.simd.SimdConstants.ORDER;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.E4m3;
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
 * LANES signed bytes are sign-extended to int lanes; int8 converts them to float, fp8 moves the
 * E4M3 bits into a float's ({@link #fp8}), int4 splits each byte into its low nibble
 * ({@code <<28 >>28}, the group's first half) and high nibble ({@code >>4}, the second half).
 * Scales are applied by the caller. Scalar helpers decode single codes for tails.
 */
final class SimdQuantLoads {
  private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
  /**
   * A sign-extended E4M3 byte shifted left by 20: bit 31 is its sign, bits 20-26 its exponent
   * (high 4) and mantissa (low 3), the rest goes.
   */
  private static final int FP8_BITS = 0x87f00000;
  /** 2^(127 - 7): from a float with the E4M3 exponent field to the E4M3 value. */
  private static final float FP8_REBIAS = 0x1p120f;

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
   * LANES fp8 E4M3 codes from byte {@code off}, as floats, exactly {@link E4m3#decode}: the
   * code's sign, exponent and mantissa put into a float's top bits read as a float with bias 127
   * instead of 7 (a subnormal E4M3 {@code m·2^-9} as the float subnormal {@code m·2^-129}), so
   * one exact multiply by 2^120 rebiases it; the NaN codes (0x7f, 0xff), which would read as
   * ±480, become NaN. Faster than a 256-entry table: decoding a 64 x 512 block took 12 us this
   * way, 21 us with a scalar table lookup, 45 us with a vector gather from the table (int8: 7
   * us; AVX2, 8 lanes).
   */
  static FloatVector fp8(MemorySegment seg, long off) {
    FloatVector v = bytes(seg, off).lanewise(VectorOperators.LSHL, 20).and(FP8_BITS)
        .reinterpretAsFloats().mul(FP8_REBIAS);
    return v.blend(Float.NaN, v.abs().compare(VectorOperators.GT, E4m3.MAX));
  }

  /**
   * 4·LANES int8 codes from byte {@code off} as one int vector: byte k of lane i is code 4i + k.
   * {@link #byteLane} takes them out a quarter at a time, so one load serves four float vectors
   * where {@link #bytes} serves one.
   */
  static IntVector quad(MemorySegment seg, long off) {
    return IntVector.fromMemorySegment(INTS, seg, off, ORDER);
  }

  /**
   * Byte k (0-3, a constant at every call site) of each lane of a {@link #quad} load as int8
   * codes in floats: shifted to the top byte, then down with its sign.
   */
  static FloatVector byteLane(IntVector quad, int k) {
    IntVector top = k == 3 ? quad : quad.lanewise(VectorOperators.LSHL, 24 - 8 * k);
    return (FloatVector) top.lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0);
  }

  /** LANES one-byte codes from byte {@code off}: fp8 when {@code fp8}, else int8. */
  static FloatVector byteCodes(MemorySegment seg, long off, boolean fp8) {
    return fp8 ? fp8(seg, off) : int8(seg, off);
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
   * Code value of element {@code e} of a group of {@code m} elements whose codes start at byte
   * {@code group} (one lane of the loads above, for tails).
   */
  static float code(MemorySegment seg, long group, int e, int m, Quantization q) {
    if (q != Quantization.INT4) {
      byte b = seg.get(ValueLayout.JAVA_BYTE, group + e);
      return q == Quantization.FP8 ? E4m3.decode(b) : b;
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
