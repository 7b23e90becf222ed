package dev.mla4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Storage type of weights and caches. Arithmetic is always F32; these only say how an element
 * sits in memory and how it widens to float.
 */
public enum DType {
  F32(4),
  /** bfloat16: the upper 16 bits of an IEEE float32. */
  BF16(2),
  /** IEEE 754 binary16. */
  F16(2);

  static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
  static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  public int bytes() {
    return bytes;
  }

  /** Element {@code index} (in elements, not bytes) of {@code seg}, widened to float. */
  public float get(MemorySegment seg, long index) {
    return switch (this) {
      case F32 -> seg.getAtIndex(FLOAT, index);
      case BF16 -> bf16ToFloat(seg.getAtIndex(SHORT, index));
      case F16 -> Float.float16ToFloat(seg.getAtIndex(SHORT, index));
    };
  }

  /** Stores {@code v} at element {@code index}, rounding to nearest even. */
  public void set(MemorySegment seg, long index, float v) {
    switch (this) {
      case F32 -> seg.setAtIndex(FLOAT, index, v);
      case BF16 -> seg.setAtIndex(SHORT, index, floatToBf16(v));
      case F16 -> seg.setAtIndex(SHORT, index, Float.floatToFloat16(v));
    }
  }

  /** Rounds {@code v} to this type and back, e.g. to build inputs that are exact in storage. */
  public float round(float v) {
    return switch (this) {
      case F32 -> v;
      case BF16 -> bf16ToFloat(floatToBf16(v));
      case F16 -> Float.float16ToFloat(Float.floatToFloat16(v));
    };
  }

  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /** Round-to-nearest-even, NaN kept quiet (same rule as PyTorch's float -> bfloat16). */
  public static short floatToBf16(float v) {
    int bits = Float.floatToRawIntBits(v);
    if (Float.isNaN(v)) {
      return (short) ((bits >>> 16) | 0x0040);
    }
    int rounding = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }

  /** Unit roundoff of this type: relative error of one rounding. */
  public double epsilon() {
    return switch (this) {
      case F32 -> 0x1p-24;
      case BF16 -> 0x1p-8;
      case F16 -> 0x1p-11;
    };
  }
}
