package dev.mla4j.cache;

import java.lang.foreign.MemorySegment;

/**
 * One quantized part of one 64-token cache block, as stored (see {@link QuantizedLayout}):
 * codes {@code [64][rowBytes]} from byte {@code codes} of {@code data}, scales
 * {@code [64][scalesPerRow]} BF16 from byte {@code scales}. {@code data} extends at least 16
 * bytes past the last code, so a kernel may load a whole vector of bytes at the end of a row.
 */
public record QuantizedBlock(MemorySegment data, long codes, long scales, QuantizedLayout layout) {

  /** Byte offset in {@link #data} of the codes of slot {@code slot} (0..63). */
  public long codeRow(int slot) {
    return codes + (long) slot * layout.rowBytes();
  }

  /** Byte offset in {@link #data} of the first scale of slot {@code slot}. */
  public long scaleRow(int slot) {
    return scales + 2L * slot * layout.scalesPerRow();
  }

  /** Decodes slot {@code slot} into {@code dst[off, off+width)} (the scalar kernels' reader). */
  public void dequantize(int slot, float[] dst, int off) {
    layout.dequantize(data, codeRow(slot), scaleRow(slot), dst, off);
  }
}
