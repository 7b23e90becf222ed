package dev.mla4j.oracle;

import dev.mla4j.cache.QuantizedBlock;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Decodes quantized cache rows from their bytes, straight from the format documented in
 * {@code CacheFormat} and {@code QuantizedLayout}, sharing no code with the library: segments of
 * {@code segmentLength}, groups of {@code groupSize} (the last one of a segment shorter), int8
 * codes in element order, fp8 E4M3 codes in element order ({@link #e4m3}) or int4 codes
 * half-split (byte j: element j low nibble, element j + ceil(m/2) high nibble), one BF16 scale
 * per group, value = code · scale. Only the block's base offsets and the layout's four
 * parameters are taken from the library.
 */
public final class QuantDecoder {
  private QuantDecoder() {}

  /** One decoded group: its scale and the values of its codes (E4M3 values for fp8). */
  public record Group(double scale, double[] codes) {}

  /**
   * The value of the OCP FP8 E4M3 ("e4m3fn") code {@code code} (its low 8 bits), from the
   * format's definition: sign bit 7, exponent bits 6-3 with bias 7, mantissa bits 2-0; exponent
   * 0 is subnormal, {@code (m/8)·2^-6}; otherwise {@code (1 + m/8)·2^(e-7)}; exponent 15 with
   * mantissa 7 is NaN (no infinities). Signed zero kept.
   */
  public static double e4m3(int code) {
    int sign = (code >> 7) & 1;
    int e = (code >> 3) & 0xf;
    int m = code & 7;
    if (e == 15 && m == 7) {
      return Double.NaN;
    }
    double magnitude = e == 0 ? m / 8.0 * Math.pow(2, -6) : (1 + m / 8.0) * Math.pow(2, e - 7);
    return sign == 1 ? -magnitude : magnitude;
  }

  /** Row {@code slot} of {@code block}, decoded: {@code [segments·segmentLength]}. */
  public static double[] row(QuantizedBlock block, int slot) {
    Group[] groups = groups(block, slot);
    var l = block.layout();
    double[] out = new double[l.segments() * l.segmentLength()];
    int perSegment = groups.length / l.segments();
    for (int s = 0; s < l.segments(); s++) {
      for (int g = 0; g < perSegment; g++) {
        Group gr = groups[s * perSegment + g];
        for (int i = 0; i < gr.codes().length; i++) {
          out[s * l.segmentLength() + g * l.groupSize() + i] = gr.codes()[i] * gr.scale();
        }
      }
    }
    return out;
  }

  /** Groups of row {@code slot}, segment-major. */
  public static Group[] groups(QuantizedBlock block, int slot) {
    var l = block.layout();
    boolean int4 = l.quantization().name().equals("INT4");
    boolean fp8 = l.quantization().name().equals("FP8");
    int segLen = l.segmentLength();
    int g = l.groupSize();
    int perSegment = (segLen + g - 1) / g;
    int segmentBytes = 0;
    for (int i = 0; i < perSegment; i++) {
      int m = Math.min(g, segLen - i * g);
      segmentBytes += int4 ? (m + 1) / 2 : m;
    }
    int rowBytes = segmentBytes * l.segments();
    int scalesPerRow = perSegment * l.segments();
    MemorySegment data = block.data();
    long codes = block.codes() + (long) slot * rowBytes;
    long scales = block.scales() + 2L * slot * scalesPerRow;
    Group[] out = new Group[scalesPerRow];
    long at = codes;
    for (int k = 0; k < scalesPerRow; k++) {
      int m = Math.min(g, segLen - (k % perSegment) * g);
      short bits = data.get(ValueLayout.JAVA_SHORT_UNALIGNED, scales + 2L * k);
      double scale = Float.intBitsToFloat((bits & 0xffff) << 16);
      double[] q = new double[m];
      int half = (m + 1) / 2;
      for (int i = 0; i < m; i++) {
        if (fp8) {
          q[i] = e4m3(data.get(ValueLayout.JAVA_BYTE, at + i));
        } else if (!int4) {
          q[i] = data.get(ValueLayout.JAVA_BYTE, at + i);
        } else {
          int b = data.get(ValueLayout.JAVA_BYTE, at + (i < half ? i : i - half)) & 0xff;
          int nibble = i < half ? b & 0xf : b >>> 4;
          q[i] = nibble >= 8 ? nibble - 16 : nibble;
        }
      }
      out[k] = new Group(scale, q);
      at += int4 ? half : m;
    }
    return out;
  }
}
