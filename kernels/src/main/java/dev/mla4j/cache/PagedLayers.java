package dev.mla4j.cache;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Per-layer token storage in blocks of {@link #BLOCK_TOKENS} tokens, allocated as the sequence
 * grows. Each token has {@code parts} rows of fixed widths (latent and rope keys, or K and V);
 * a block holds part 0 of its 64 tokens, then part 1, so each part of a block is one dense
 * {@code [64][width]} matrix a kernel can stream.
 */
public final class PagedLayers implements AutoCloseable {
  /** Tokens per block; attention kernels tile the cached sequence on this boundary. */
  public static final int BLOCK_TOKENS = 64;

  private final String name;
  private final int[] widths;
  private final long[] partOffsets;
  private final long blockBytes;
  private final DType dtype;
  private final int maxTokens;
  private final int[] lengths;
  private final List<List<MemorySegment>> blocks;
  private final Arena arena = Arena.ofShared();
  private boolean closed;

  PagedLayers(String name, int layers, int[] widths, DType dtype, int maxTokens) {
    if (layers <= 0 || maxTokens <= 0) {
      throw new IllegalArgumentException(
          name + " needs layers > 0 and maxTokens > 0, got " + layers + " and " + maxTokens);
    }
    this.name = name;
    this.widths = widths.clone();
    this.dtype = dtype;
    this.maxTokens = maxTokens;
    this.partOffsets = new long[widths.length];
    long offset = 0;
    for (int p = 0; p < widths.length; p++) {
      if (widths[p] < 0) {
        throw new IllegalArgumentException(name + " part " + p + " has negative width " + widths[p]);
      }
      partOffsets[p] = offset;
      // keep every part 64-byte aligned so vector loads of a block start on a cache line
      offset += align64((long) BLOCK_TOKENS * widths[p] * dtype.bytes());
    }
    this.blockBytes = Math.max(64, offset);
    this.lengths = new int[layers];
    this.blocks = new ArrayList<>(layers);
    for (int l = 0; l < layers; l++) {
      blocks.add(new ArrayList<>());
    }
  }

  private static long align64(long bytes) {
    return (bytes + 63) & ~63L;
  }

  public int layers() {
    return lengths.length;
  }

  public DType dtype() {
    return dtype;
  }

  public int maxTokens() {
    return maxTokens;
  }

  public int width(int part) {
    return widths[part];
  }

  /** Tokens cached so far in {@code layer}. */
  public int length(int layer) {
    checkLayer(layer);
    return lengths[layer];
  }

  /** Cached bytes per token over all layers (elements times dtype size, spec 5.1). */
  public long bytesPerToken() {
    long elements = 0;
    for (int w : widths) {
      elements += w;
    }
    return elements * dtype.bytes() * lengths.length;
  }

  /** Appends {@code rows[p]} ({@code [T][width(p)]}, any dtype) as the next T tokens. */
  void append(int layer, Tensor... rows) {
    checkOpen();
    checkLayer(layer);
    if (rows.length != widths.length) {
      throw new IllegalArgumentException(name + " append needs " + widths.length + " parts");
    }
    int t = rows[0].rows();
    for (int p = 0; p < rows.length; p++) {
      if (rows[p].cols() != widths[p] || rows[p].rows() != t) {
        throw new IllegalArgumentException(name + " append: part " + p + " must be [" + t + "]["
            + widths[p] + "] but is " + rows[p].shape());
      }
    }
    if ((long) lengths[layer] + t > maxTokens) {
      throw new IllegalStateException(name + " layer " + layer + " overflow: holds "
          + lengths[layer] + " of at most " + maxTokens + " tokens, cannot append " + t
          + " more (create the cache with a larger maxTokens)");
    }
    for (int i = 0; i < t; i++) {
      int pos = lengths[layer] + i;
      int b = pos / BLOCK_TOKENS;
      List<MemorySegment> list = blocks.get(layer);
      while (list.size() <= b) {
        list.add(arena.allocate(blockBytes, 64));
      }
      for (int p = 0; p < rows.length; p++) {
        storeRow(list.get(b), p, pos % BLOCK_TOKENS, rows[p], i);
      }
    }
    lengths[layer] += t;
  }

  private void storeRow(MemorySegment block, int part, int slot, Tensor src, int srcRow) {
    int w = widths[part];
    long dst = partOffsets[part] + (long) slot * w * dtype.bytes();
    if (src.dtype() == dtype) {
      MemorySegment.copy(src.data(), src.offset(srcRow, 0), block, dst, (long) w * dtype.bytes());
      return;
    }
    long base = dst / dtype.bytes();
    for (int c = 0; c < w; c++) {
      dtype.set(block, base + c, src.get(srcRow, c));
    }
  }

  /** Part {@code part} of block {@code block} of {@code layer}: {@code [64][width(part)]}. */
  public Tensor block(int layer, int block, int part) {
    checkOpen();
    checkLayer(layer);
    List<MemorySegment> list = blocks.get(layer);
    if (block < 0 || block >= list.size()) {
      throw new IndexOutOfBoundsException(name + " layer " + layer + " has no block " + block);
    }
    MemorySegment seg = list.get(block).asSlice(partOffsets[part],
        (long) BLOCK_TOKENS * widths[part] * dtype.bytes());
    return Tensor.of(seg, dtype, BLOCK_TOKENS, widths[part]);
  }

  /** Forgets every cached token of every layer, keeping the allocated blocks. */
  public void clear() {
    checkOpen();
    java.util.Arrays.fill(lengths, 0);
  }

  /** Checks that {@code count} query tokens ending at the cache's end are valid in {@code layer}. */
  public void checkQueries(int layer, int firstQueryPos, int count) {
    checkOpen();
    checkLayer(layer);
    if (count <= 0) {
      throw new IllegalArgumentException(name + ": need at least one query token, got " + count);
    }
    if (firstQueryPos < 0 || (long) firstQueryPos + count > lengths[layer]) {
      throw new IllegalArgumentException(name + " layer " + layer + ": query positions ["
          + firstQueryPos + ", " + ((long) firstQueryPos + count) + ") are not cached; the layer holds "
          + lengths[layer] + " tokens (append the new tokens before attending)");
    }
  }

  private void checkLayer(int layer) {
    if (layer < 0 || layer >= lengths.length) {
      throw new IndexOutOfBoundsException(
          name + ": layer " + layer + " outside [0, " + lengths.length + ")");
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException(name + " is closed");
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      arena.close();
    }
  }
}
