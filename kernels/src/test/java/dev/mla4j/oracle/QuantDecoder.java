package dev.mla4j.oracle;

import dev.mla4j.cache.QuantizedBlock;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Decodes quantized cache rows from their bytes, straight from the format documented in
 * {@code CacheFormat} and {@code QuantizedLayout}, sharing no code with the library: segments of
 * {@code segmentLength}, groups of {@code groupSize} (the last one of a segment shorter), int8
 * codes in element order or int4 codes half-split (byte j: element j low nibble, element
 * j + ceil(m/2) high nibble), one BF16 scale per group, value = code · scale. Only the block's
 * base offsets and the layout's four parameters are taken from the library.
 */
public final class QuantDecoder {
  private QuantDecoder() {}

  /** One decoded group: its scale and codes. */
  public record Group(double scale, int[] codes) {}

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
      int[] q = new int[m];
      int half = (m + 1) / 2;
      for (int i = 0; i < m; i++) {
        if (!int4) {
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
