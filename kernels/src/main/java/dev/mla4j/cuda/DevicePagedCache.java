package dev.mla4j.cuda;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;

/**
 * A pool of 64-token cache blocks in device memory, addressed through block tables: block b
 * holds part 0, then part 1 (latent and rope keys for MLA, K and V for MHA), each 16-byte aligned.
 * A plain part is {@code [64][width]} of the cache's dtype; a quantized part is its codes
 * {@code [64][codeRowBytes]} followed by its BF16 scales {@code [64][scalesPerRow]}, the same
 * row layout as a host block ({@link QuantizedLayout}), so a host block mirrors with two copies.
 * Which blocks belong to which sequence is the caller's block table ({@code [seqs][max_blocks]}
 * int32 in device memory).
 */
public final class DevicePagedCache implements AutoCloseable {
  /** One per-token row: plain {@code width} elements, or quantized when {@code quant != null}. */
  public record Part(int width, QuantizedLayout quant) {
    public Part {
      if (width < 0 || (quant != null && quant.width() != width)) {
        throw new IllegalArgumentException("bad cache part: width " + width + ", layout " + quant);
      }
    }

    public static Part plain(int width) {
      return new Part(width, null);
    }

    public static Part quantized(QuantizedLayout layout) {
      return new Part(layout.width(), layout);
    }

    boolean isQuantized() {
      return quant != null;
    }
  }

  private final Part[] parts;
  private final long[] offsets;
  private final long[] scaleOffsets;
  private final long blockBytes;
  private final int blocks;
  private final DType dtype;
  private final CudaContext context;
  private final DeviceBuffer pool;

  /** A plain cache: every part {@code [64][width]} of {@code dtype}. */
  public DevicePagedCache(CudaContext context, DType dtype, int blocks, int... widths) {
    this(context, dtype, blocks, plainParts(widths));
  }

  /**
   * @param dtype storage of the plain parts (a quantized part's codes have their own format)
   */
  public DevicePagedCache(CudaContext context, DType dtype, int blocks, Part... parts) {
    if (blocks <= 0) {
      throw new IllegalArgumentException("device cache needs > 0 blocks, got " + blocks);
    }
    this.parts = parts.clone();
    this.dtype = dtype;
    this.context = context;
    this.blocks = blocks;
    this.offsets = new long[parts.length];
    this.scaleOffsets = new long[parts.length];
    long offset = 0;
    for (int p = 0; p < parts.length; p++) {
      offsets[p] = offset;
      Part part = parts[p];
      if (part.isQuantized()) {
        offset = align16(offset + (long) PagedLayers.BLOCK_TOKENS * part.quant().rowBytes());
        scaleOffsets[p] = offset;
        offset = align16(offset + 2L * PagedLayers.BLOCK_TOKENS * part.quant().scalesPerRow());
      } else {
        offset = align16(offset + (long) PagedLayers.BLOCK_TOKENS * part.width() * dtype.bytes());
      }
    }
    this.blockBytes = Math.max(16, offset);
    this.pool = context.allocate(blockBytes * blocks);
  }

  private static Part[] plainParts(int[] widths) {
    Part[] parts = new Part[widths.length];
    for (int p = 0; p < widths.length; p++) {
      parts[p] = Part.plain(widths[p]);
    }
    return parts;
  }

  private static long align16(long bytes) {
    return (bytes + 15) & ~15L;
  }

  /** Storage dtype of the plain parts. */
  public DType dtype() {
    return dtype;
  }

  public int blocks() {
    return blocks;
  }

  /** Parts per token (2: latent and rope keys, or K and V). */
  public int parts() {
    return parts.length;
  }

  /** Elements per token row of {@code part}. */
  public int width(int part) {
    return parts[part].width();
  }

  /** The quantized layout of {@code part}, or null when it is plain. */
  public QuantizedLayout quantization(int part) {
    return parts[part].quant();
  }

  /** {@link Quantization#NONE} for a plain part. */
  public Quantization quantizationKind(int part) {
    return parts[part].isQuantized() ? parts[part].quant().quantization() : Quantization.NONE;
  }

  public long blockBytes() {
    return blockBytes;
  }

  /** Byte offset of part {@code part} (its codes, when quantized) inside a block. */
  public long partOffset(int part) {
    return offsets[part];
  }

  /** Byte offset of a quantized part's scales inside a block (0 for a plain part). */
  public long scalesOffset(int part) {
    return scaleOffsets[part];
  }

  public DeviceBuffer pool() {
    return pool;
  }

  /**
   * Queues on {@code stream} the write of {@code seqs·tokens} F32 rows into part {@code part}:
   * row {@code seq·tokens + t} of {@code rows} to position {@code pos = firstPos[seq] + t} of
   * sequence seq, i.e. slot {@code pos mod 64} of block {@code blockTable[seq][pos / 64]}. A
   * plain part stores the rows rounded to the cache's dtype (nearest even), a quantized part
   * their codes and scales, quantized on the device: the bytes a host cache stores for the same
   * rows ({@code Tensor.set}, {@link QuantizedLayout#quantize}), bit for bit. Positions must map
   * to distinct (block, slot) pairs; nothing waits.
   *
   * @param rows device address of F32 {@code [seqs·tokens][rowStride]}, width(part) columns used
   * @param blockTable device address of int32 {@code [seqs][maxBlocks]}
   * @param firstPos device address of int32 {@code [seqs]}
   */
  public void append(CudaStream stream, int part, long rows, long rowStride, int tokens,
      int seqs, long blockTable, int maxBlocks, long firstPos) {
    CudaOps.append(context, stream, this, part, rows, rowStride, tokens, seqs, blockTable,
        maxBlocks, firstPos, false);
  }

  @Override
  public void close() {
    pool.close();
  }
}
