package dev.mla4j.cache;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Byte layout of one quantized cache row {@code [segments·segmentLength]}: codes then, in a
 * separate array, scales.
 *
 * <p>Each segment (the latent, or one kv head's rope key, K or V) is cut into groups of
 * {@code groupSize} elements; the last group of a segment has {@code segmentLength mod groupSize}
 * elements when that is not 0 (no padding, no error). Groups are stored one after the other:
 * <ul>
 *   <li>INT8: one signed byte per element, in element order.
 *   <li>FP8: one E4M3 byte per element ({@link E4m3}), in element order.
 *   <li>INT4: a group of m elements takes {@code ceil(m/2)} bytes; byte j holds element j in its
 *       low nibble and element {@code j + ceil(m/2)} (if any) in its high nibble, both two's
 *       complement. This "half-split" order lets a kernel turn one vector of bytes into two
 *       vectors of elements with one shift each (sign-extend, {@code <<28 >>28} and
 *       {@code >>4}), whatever the vector width.
 * </ul>
 * Scales: one BF16 per group, {@code [segments][groups per segment]} per row.
 * Element e of a group is {@code code · scale}.
 */
public record QuantizedLayout(Quantization quantization, int segments, int segmentLength,
    int groupSize) {
  private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

  public QuantizedLayout {
    if (quantization == Quantization.NONE) {
      throw new IllegalArgumentException("a quantized layout needs INT8, INT4 or FP8");
    }
    if (segments <= 0 || segmentLength <= 0 || groupSize < 2 || groupSize % 2 != 0) {
      throw new IllegalArgumentException("bad quantized layout: " + segments + " segments of "
          + segmentLength + ", group " + groupSize);
    }
  }

  /** Elements per row. */
  public int width() {
    return segments * segmentLength;
  }

  /** Groups per segment: {@code ceil(segmentLength / groupSize)}. */
  public int groupsPerSegment() {
    return (segmentLength + groupSize - 1) / groupSize;
  }

  /** Scales per row. */
  public int scalesPerRow() {
    return segments * groupsPerSegment();
  }

  /** Elements of group {@code g} of a segment: groupSize, or less for the last one. */
  public int groupLength(int g) {
    return Math.min(groupSize, segmentLength - g * groupSize);
  }

  /** Code bytes of a group of {@code m} elements. */
  public int groupBytes(int m) {
    return quantization == Quantization.INT4 ? (m + 1) / 2 : m;
  }

  /** Code bytes of one segment. */
  public int segmentBytes() {
    int full = segmentLength / groupSize;
    int rest = segmentLength % groupSize;
    return full * groupBytes(groupSize) + (rest == 0 ? 0 : groupBytes(rest));
  }

  /** Code bytes per row. */
  public int rowBytes() {
    return segments * segmentBytes();
  }

  /** Bytes per row with scales: what one token of this part costs. */
  public long bytesPerRow() {
    return rowBytes() + 2L * scalesPerRow();
  }

  /** Byte offset of group {@code g} of segment {@code s} inside a row's codes. */
  public int groupOffset(int s, int g) {
    return s * segmentBytes() + g * groupBytes(groupSize);
  }

  /**
   * Quantizes {@code x[off, off+width)} into a row's codes at byte {@code codes} of
   * {@code seg} and its scales at byte {@code scales}. A NaN in a group makes its scale NaN, so a
   * poisoned token stays visible after dequantization.
   */
  public void quantize(float[] x, int off, MemorySegment seg, long codes, long scales) {
    int qmax = quantization.qmax();
    int groups = groupsPerSegment();
    for (int s = 0; s < segments; s++) {
      for (int g = 0; g < groups; g++) {
        int first = off + s * segmentLength + g * groupSize;
        int m = groupLength(g);
        float absMax = 0;
        for (int i = 0; i < m; i++) {
          absMax = Math.max(absMax, Math.abs(x[first + i]));
        }
        short scaleBits = roundUpBf16(absMax / qmax);
        float scale = DType.bf16ToFloat(scaleBits);
        seg.set(SHORT, scales + 2L * (s * groups + g), scaleBits);
        boolean divide = scale > 0 && Float.isFinite(scale);
        long base = codes + groupOffset(s, g);
        int half = (m + 1) / 2;
        for (int i = 0; i < m; i++) {
          if (quantization == Quantization.FP8) {
            seg.set(ValueLayout.JAVA_BYTE, base + i, E4m3.encode(divide ? x[first + i] / scale : 0f));
            continue;
          }
          int q = Math.max(-qmax, Math.min(qmax, divide ? Math.round(x[first + i] / scale) : 0));
          if (quantization == Quantization.INT8) {
            seg.set(ValueLayout.JAVA_BYTE, base + i, (byte) q);
          } else if (i < half) {
            seg.set(ValueLayout.JAVA_BYTE, base + i, (byte) (q & 0xf));
          } else {
            long at = base + i - half;
            seg.set(ValueLayout.JAVA_BYTE, at, (byte) (seg.get(ValueLayout.JAVA_BYTE, at) | q << 4));
          }
        }
      }
    }
  }

  /** Decodes a row stored as in {@link #quantize} into {@code dst[off, off+width)}. */
  public void dequantize(MemorySegment seg, long codes, long scales, float[] dst, int off) {
    int groups = groupsPerSegment();
    for (int s = 0; s < segments; s++) {
      for (int g = 0; g < groups; g++) {
        float scale = DType.bf16ToFloat(seg.get(SHORT, scales + 2L * (s * groups + g)));
        int first = off + s * segmentLength + g * groupSize;
        int m = groupLength(g);
        long base = codes + groupOffset(s, g);
        int half = (m + 1) / 2;
        for (int i = 0; i < m; i++) {
          if (quantization == Quantization.FP8) {
            dst[first + i] = E4m3.decode(seg.get(ValueLayout.JAVA_BYTE, base + i)) * scale;
            continue;
          }
          int q;
          if (quantization == Quantization.INT8) {
            q = seg.get(ValueLayout.JAVA_BYTE, base + i);
          } else {
            int b = seg.get(ValueLayout.JAVA_BYTE, base + (i < half ? i : i - half));
            q = i < half ? (b << 28) >> 28 : b >> 4;
          }
          dst[first + i] = q * scale;
        }
      }
    }
  }

  /**
   * The smallest BF16 at or above {@code v >= 0} (NaN stays NaN): rounding the scale up keeps
   * {@code |x| / scale <= qmax}, so no code clips.
   */
  static short roundUpBf16(float v) {
    if (Float.isNaN(v)) {
      return DType.floatToBf16(v);
    }
    int bits = Float.floatToRawIntBits(v);
    int truncated = bits & 0xffff0000;
    if (truncated != bits) {
      truncated += 0x10000;
    }
    return (short) (truncated >>> 16);
  }
}
