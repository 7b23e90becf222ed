package dev.mla4j.cache;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Per-layer token storage in blocks of {@link #BLOCK_TOKENS} tokens, allocated as the sequence
 * grows. Each token has {@code parts} rows of fixed widths (latent and rope keys, or K and V);
 * a block holds part 0 of its 64 tokens, then part 1, so each part of a block is one dense
 * {@code [64][width]} matrix a kernel can stream, or for a quantized part a {@code [64][rowBytes]}
 * code matrix followed by its {@code [64][scales]} BF16 scales ({@link QuantizedBlock}).
 *
 * <p>With a recent-token window W > 0, quantized parts keep their last W tokens unquantized in
 * a per-layer ring of W rows (row {@code pos mod W}); appending token {@code pos >= W}
 * quantizes token {@code pos - W} from the ring into its block first, so at most W tokens per
 * layer are ever unquantized and positions below {@link #quantizedLength} are read from blocks.
 */
public final class PagedLayers implements AutoCloseable {
  /** Tokens per block; attention kernels tile the cached sequence on this boundary. */
  public static final int BLOCK_TOKENS = 64;
  /** Bytes after a block's last part, so a vector load of bytes at a row's end stays inside. */
  private static final int SLACK = 64;

  /** One per-token row: plain {@code [width]} of {@code dtype}, or quantized when quant != null. */
  record Part(int width, DType dtype, QuantizedLayout quant) {
    long bytesPerToken() {
      return quant == null ? (long) width * dtype.bytes() : quant.bytesPerRow();
    }
  }

  private final String name;
  private final Part[] parts;
  /** Byte offset of each part's data (codes) inside a block, and of its scales (quantized). */
  private final long[] partOffsets;
  private final long[] scaleOffsets;
  private final long blockBytes;
  private final int window;
  private final int maxTokens;
  private final int[] lengths;
  private final List<List<MemorySegment>> blocks;
  /** [layer][part] ring of the last W rows, null for plain parts or W = 0. */
  private final Tensor[][] rings;
  private final Arena arena = Arena.ofShared();
  private boolean closed;

  PagedLayers(String name, int layers, Part[] parts, int window, int maxTokens) {
    if (layers <= 0 || maxTokens <= 0) {
      throw new IllegalArgumentException(
          name + " needs layers > 0 and maxTokens > 0, got " + layers + " and " + maxTokens);
    }
    this.name = name;
    this.parts = parts.clone();
    this.window = window;
    this.maxTokens = maxTokens;
    this.partOffsets = new long[parts.length];
    this.scaleOffsets = new long[parts.length];
    long offset = 0;
    for (int p = 0; p < parts.length; p++) {
      Part part = parts[p];
      if (part.width() < 0) {
        throw new IllegalArgumentException(name + " part " + p + " has negative width " + part.width());
      }
      partOffsets[p] = offset;
      // keep every part 64-byte aligned so vector loads of a block start on a cache line
      if (part.quant() == null) {
        offset += align64((long) BLOCK_TOKENS * part.width() * part.dtype().bytes());
      } else {
        offset += align64((long) BLOCK_TOKENS * part.quant().rowBytes());
        scaleOffsets[p] = offset;
        offset += align64(2L * BLOCK_TOKENS * part.quant().scalesPerRow());
      }
    }
    this.blockBytes = Math.max(64, offset) + SLACK;
    this.lengths = new int[layers];
    this.blocks = new ArrayList<>(layers);
    this.rings = new Tensor[layers][parts.length];
    for (int l = 0; l < layers; l++) {
      blocks.add(new ArrayList<>());
      for (int p = 0; p < parts.length; p++) {
        if (window > 0 && parts[p].quant() != null) {
          rings[l][p] = Tensor.allocate(arena, parts[p].dtype(), window, parts[p].width());
        }
      }
    }
  }

  private static long align64(long bytes) {
    return (bytes + 63) & ~63L;
  }

  public int layers() {
    return lengths.length;
  }

  public int maxTokens() {
    return maxTokens;
  }

  public int width(int part) {
    return parts[part].width();
  }

  /** Storage dtype of a plain part, or of a quantized part's window. */
  public DType dtype(int part) {
    return parts[part].dtype();
  }

  /** The quantized layout of {@code part}, or null when it is stored plain. */
  public QuantizedLayout quantization(int part) {
    return parts[part].quant();
  }

  /** Recent tokens kept unquantized by quantized parts (0: none). */
  public int window() {
    return window;
  }

  /** Tokens cached so far in {@code layer}. */
  public int length(int layer) {
    checkLayer(layer);
    return lengths[layer];
  }

  /**
   * Positions {@code [0, quantizedLength)} of a quantized part are in its blocks, the rest in its
   * window ring: {@code max(0, length - W)}.
   */
  public int quantizedLength(int layer) {
    return Math.max(0, length(layer) - window);
  }

  /**
   * Cached bytes per token over all layers (spec 5.1): elements times dtype size for plain
   * parts, codes plus BF16 scales for quantized ones. The window's fixed
   * {@code W·width·sizeof(dtype)} bytes per layer and quantized part are not per-token storage
   * and are not included.
   */
  public long bytesPerToken() {
    long bytes = 0;
    for (Part p : parts) {
      bytes += p.bytesPerToken();
    }
    return bytes * lengths.length;
  }

  /** Appends {@code rows[p]} ({@code [T][width(p)]}, any dtype) as the next T tokens. */
  void append(int layer, Tensor... rows) {
    checkOpen();
    checkLayer(layer);
    if (rows.length != parts.length) {
      throw new IllegalArgumentException(name + " append needs " + parts.length + " parts");
    }
    int t = rows[0].rows();
    for (int p = 0; p < rows.length; p++) {
      if (rows[p].cols() != parts[p].width() || rows[p].rows() != t) {
        throw new IllegalArgumentException(name + " append: part " + p + " must be [" + t + "]["
            + parts[p].width() + "] but is " + rows[p].shape());
      }
    }
    if ((long) lengths[layer] + t > maxTokens) {
      throw new IllegalStateException(name + " layer " + layer + " overflow: holds "
          + lengths[layer] + " of at most " + maxTokens + " tokens, cannot append " + t
          + " more (create the cache with a larger maxTokens)");
    }
    float[][] scratch = new float[parts.length][];
    for (int p = 0; p < parts.length; p++) {
      scratch[p] = new float[parts[p].width()];
    }
    List<MemorySegment> list = blocks.get(layer);
    for (int i = 0; i < t; i++) {
      int pos = lengths[layer] + i;
      while (list.size() <= pos / BLOCK_TOKENS) {
        list.add(arena.allocate(blockBytes, 64));
      }
      for (int p = 0; p < rows.length; p++) {
        Tensor ring = rings[layer][p];
        if (parts[p].quant() == null) {
          storeRow(list.get(pos / BLOCK_TOKENS), p, pos % BLOCK_TOKENS, rows[p], i);
        } else if (ring == null) {
          quantizeRow(list, p, pos, rows[p], i, scratch[p]);
        } else {
          if (pos >= window) { // the token leaving the window is quantized before its slot is reused
            quantizeRow(list, p, pos - window, ring, pos % window, scratch[p]);
          }
          copyRow(rows[p], i, ring, pos % window);
        }
      }
    }
    lengths[layer] += t;
  }

  private void storeRow(MemorySegment block, int part, int slot, Tensor src, int srcRow) {
    int w = parts[part].width();
    DType dtype = parts[part].dtype();
    Tensor dst = Tensor.of(block.asSlice(partOffsets[part], (long) BLOCK_TOKENS * w * dtype.bytes()),
        dtype, BLOCK_TOKENS, w);
    copyRow(src, srcRow, dst, slot);
  }

  private static void copyRow(Tensor src, int srcRow, Tensor dst, int dstRow) {
    if (src.dtype() == dst.dtype()) {
      MemorySegment.copy(src.data(), src.offset(srcRow, 0), dst.data(), dst.offset(dstRow, 0),
          (long) src.cols() * src.dtype().bytes());
      return;
    }
    for (int c = 0; c < src.cols(); c++) {
      dst.set(dstRow, c, src.get(srcRow, c));
    }
  }

  private void quantizeRow(List<MemorySegment> list, int part, int pos, Tensor src, int srcRow,
      float[] row) {
    for (int c = 0; c < row.length; c++) {
      row[c] = src.get(srcRow, c);
    }
    QuantizedBlock b = quantizedBlock(list.get(pos / BLOCK_TOKENS), part);
    int slot = pos % BLOCK_TOKENS;
    parts[part].quant().quantize(row, 0, b.data(), b.codeRow(slot), b.scaleRow(slot));
  }

  /** Plain part {@code part} of block {@code block} of {@code layer}: {@code [64][width(part)]}. */
  public Tensor block(int layer, int block, int part) {
    if (parts[part].quant() != null) {
      throw new IllegalStateException(name + " part " + part + " is quantized ("
          + parts[part].quant().quantization() + "): read it with quantizedBlock");
    }
    MemorySegment seg = segment(layer, block);
    DType dtype = parts[part].dtype();
    int w = parts[part].width();
    return Tensor.of(seg.asSlice(partOffsets[part], (long) BLOCK_TOKENS * w * dtype.bytes()),
        dtype, BLOCK_TOKENS, w);
  }

  /** Quantized part {@code part} of block {@code block} of {@code layer}. */
  public QuantizedBlock quantizedBlock(int layer, int block, int part) {
    if (parts[part].quant() == null) {
      throw new IllegalStateException(name + " part " + part + " is plain " + parts[part].dtype()
          + ": read it with block");
    }
    return quantizedBlock(segment(layer, block), part);
  }

  private QuantizedBlock quantizedBlock(MemorySegment block, int part) {
    return new QuantizedBlock(block, partOffsets[part], scaleOffsets[part], parts[part].quant());
  }

  /**
   * The window ring of a quantized part: {@code [W][width]}, position {@code pos} (for
   * {@code quantizedLength <= pos < length}) in row {@code pos mod W}.
   */
  public Tensor window(int layer, int part) {
    checkOpen();
    checkLayer(layer);
    if (rings[layer][part] == null) {
      throw new IllegalStateException(name + " part " + part + " has no recent-token window");
    }
    return rings[layer][part];
  }

  /** Decodes the row of cached position {@code pos} of {@code part} into {@code dst[off..]}. */
  public void readRow(int layer, int part, int pos, float[] dst, int off) {
    if (pos < 0 || pos >= length(layer)) {
      throw new IndexOutOfBoundsException(name + " layer " + layer + " has no position " + pos);
    }
    Part p = parts[part];
    int slot = pos % BLOCK_TOKENS;
    if (p.quant() == null) {
      Tensor t = block(layer, pos / BLOCK_TOKENS, part);
      for (int c = 0; c < p.width(); c++) {
        dst[off + c] = t.get(slot, c);
      }
    } else if (pos < quantizedLength(layer)) {
      quantizedBlock(layer, pos / BLOCK_TOKENS, part).dequantize(slot, dst, off);
    } else {
      Tensor ring = rings[layer][part];
      for (int c = 0; c < p.width(); c++) {
        dst[off + c] = ring.get(pos % window, c);
      }
    }
  }

  private MemorySegment segment(int layer, int block) {
    checkOpen();
    checkLayer(layer);
    List<MemorySegment> list = blocks.get(layer);
    if (block < 0 || block >= list.size()) {
      throw new IndexOutOfBoundsException(name + " layer " + layer + " has no block " + block);
    }
    return list.get(block);
  }

  /** Forgets every cached token of every layer, keeping the allocated blocks. */
  public void clear() {
    checkOpen();
    Arrays.fill(lengths, 0);
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
