package dev.mla4j.cuda;

import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.DType;

/**
 * A pool of 64-token cache blocks in device memory, addressed through block tables: block b
 * holds part 0 {@code [64][width(0)]}, then part 1 {@code [64][width(1)]} (latent and rope keys
 * for MLA, K and V for MHA), each part 16-byte aligned. Which blocks belong to which sequence is
 * the caller's block table ({@code [seqs][max_blocks]} int32 in device memory).
 */
public final class DevicePagedCache implements AutoCloseable {
  private final int[] widths;
  private final long[] offsets;
  private final long blockBytes;
  private final int blocks;
  private final DType dtype;
  private final DeviceBuffer pool;

  public DevicePagedCache(CudaContext context, DType dtype, int blocks, int... widths) {
    if (blocks <= 0) {
      throw new IllegalArgumentException("device cache needs > 0 blocks, got " + blocks);
    }
    this.widths = widths.clone();
    this.dtype = dtype;
    this.blocks = blocks;
    this.offsets = new long[widths.length];
    long offset = 0;
    for (int p = 0; p < widths.length; p++) {
      offsets[p] = offset;
      offset += ((long) PagedLayers.BLOCK_TOKENS * widths[p] * dtype.bytes() + 15) & ~15L;
    }
    this.blockBytes = Math.max(16, offset);
    this.pool = context.allocate(blockBytes * blocks);
  }

  public DType dtype() {
    return dtype;
  }

  public int blocks() {
    return blocks;
  }

  public int width(int part) {
    return widths[part];
  }

  public long blockBytes() {
    return blockBytes;
  }

  /** Byte offset of part {@code part} inside a block. */
  public long partOffset(int part) {
    return offsets[part];
  }

  public DeviceBuffer pool() {
    return pool;
  }

  @Override
  public void close() {
    pool.close();
  }
}
