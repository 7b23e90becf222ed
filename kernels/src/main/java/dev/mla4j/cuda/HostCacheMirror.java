package dev.mla4j.cuda;

import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cache.QuantizedBlock;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.IntFunction;

/**
 * One layer of a host cache copied to the device for one {@link CudaBackend} call, as stored:
 * positions {@code [0, split)} in {@link #blocks} (plain rows, or codes and scales of quantized
 * parts, block for block), and, when a quantized cache keeps its last tokens unquantized
 * (recent-token window), positions {@code [split, keys)} in {@link #window}: a plain cache in the
 * format's dtype holding those tokens at positions relative to {@code split} (window ring rows of
 * the quantized parts, block rows of the plain ones). Either cache is null when it would be empty.
 * Nothing is dequantized: the kernels read the codes.
 */
final class HostCacheMirror implements AutoCloseable {
  private static final int BLOCK = PagedLayers.BLOCK_TOKENS;

  /** Positions [0, split), or null when split is 0. */
  final DevicePagedCache blocks;
  /** Positions [split, keys) at [0, keys - split), or null when split == keys. */
  final DevicePagedCache window;
  /** The first position read from the window: the layer's quantized length, at most keys. */
  final int split;

  /**
   * One part of the host layer: plain blocks ({@code layout} null), or quantized blocks and,
   * with a window, the ring {@code [W][width]} holding position p in row {@code p mod W}.
   */
  private record HostPart(int width, QuantizedLayout layout, IntFunction<Tensor> plain,
      IntFunction<QuantizedBlock> codes, Tensor ring) {}

  private HostCacheMirror(DevicePagedCache blocks, DevicePagedCache window, int split) {
    this.blocks = blocks;
    this.window = window;
    this.split = split;
  }

  /** The latent and rope keys of positions {@code [0, keys)} of {@code layer}. */
  static HostCacheMirror of(CudaContext context, CudaStream stream, Arena arena,
      LatentCache cache, int layer, int keys) {
    boolean windowed = cache.format().window() > 0;
    HostPart latent = cache.format().isQuantized()
        ? new HostPart(cache.shape().latentDim(), cache.latentCodes(layer, 0).layout(), null,
            b -> cache.latentCodes(layer, b), windowed ? cache.latentWindow(layer) : null)
        : new HostPart(cache.shape().latentDim(), null, b -> cache.latentBlock(layer, b), null,
            null);
    HostPart rope = cache.ropeKeysQuantized()
        ? new HostPart(cache.shape().ropeKeyWidth(), cache.ropeCodes(layer, 0).layout(), null,
            b -> cache.ropeCodes(layer, b), windowed ? cache.ropeWindow(layer) : null)
        : new HostPart(cache.shape().ropeKeyWidth(), null, b -> cache.ropeBlock(layer, b), null,
            null);
    return mirror(context, stream, arena, cache.dtype(),
        Math.min(keys, cache.quantizedLength(layer)), keys, latent, rope);
  }

  /** The keys and values of positions {@code [0, keys)} of {@code layer}. */
  static HostCacheMirror of(CudaContext context, CudaStream stream, Arena arena, KvCache cache,
      int layer, int keys) {
    int width = cache.shape().kvWidth();
    boolean windowed = cache.format().window() > 0;
    HostPart k;
    HostPart v;
    if (cache.format().isQuantized()) {
      QuantizedLayout layout = cache.keyCodes(layer, 0).layout();
      k = new HostPart(width, layout, null, b -> cache.keyCodes(layer, b),
          windowed ? cache.keyWindow(layer) : null);
      v = new HostPart(width, layout, null, b -> cache.valueCodes(layer, b),
          windowed ? cache.valueWindow(layer) : null);
    } else {
      k = new HostPart(width, null, b -> cache.keyBlock(layer, b), null, null);
      v = new HostPart(width, null, b -> cache.valueBlock(layer, b), null, null);
    }
    return mirror(context, stream, arena, cache.dtype(), Math.min(keys, cache.quantizedLength(layer)),
        keys, k, v);
  }

  private static HostCacheMirror mirror(CudaContext context, CudaStream stream, Arena arena,
      DType dtype, int split, int keys, HostPart... parts) {
    DevicePagedCache blocks = null;
    DevicePagedCache window = null;
    try {
      if (split > 0) {
        blocks = copyBlocks(context, stream, arena, dtype, (split + BLOCK - 1) / BLOCK, parts);
      }
      if (keys > split) {
        window = copyWindow(context, stream, arena, dtype, split, keys, parts);
      }
      return new HostCacheMirror(blocks, window, split);
    } catch (RuntimeException e) {
      if (blocks != null) {
        blocks.close();
      }
      throw e;
    }
  }

  /** The first {@code count} host blocks, each part as stored (two copies for a quantized one). */
  private static DevicePagedCache copyBlocks(CudaContext context, CudaStream stream, Arena arena,
      DType dtype, int count, HostPart[] parts) {
    DevicePagedCache.Part[] layout = new DevicePagedCache.Part[parts.length];
    for (int p = 0; p < parts.length; p++) {
      layout[p] = parts[p].layout() == null ? DevicePagedCache.Part.plain(parts[p].width())
          : DevicePagedCache.Part.quantized(parts[p].layout());
    }
    DevicePagedCache device = new DevicePagedCache(context, dtype, count, layout);
    MemorySegment staging = arena.allocate(device.blockBytes() * count, 16);
    for (int b = 0; b < count; b++) {
      long base = b * device.blockBytes();
      for (int p = 0; p < parts.length; p++) {
        HostPart part = parts[p];
        if (part.layout() == null) {
          Tensor t = part.plain().apply(b);
          MemorySegment.copy(t.data(), 0, staging, base + device.partOffset(p),
              (long) BLOCK * part.width() * dtype.bytes());
        } else {
          QuantizedBlock q = part.codes().apply(b);
          MemorySegment.copy(q.data(), q.codes(), staging, base + device.partOffset(p),
              (long) BLOCK * part.layout().rowBytes());
          MemorySegment.copy(q.data(), q.scales(), staging, base + device.scalesOffset(p),
              2L * BLOCK * part.layout().scalesPerRow());
        }
      }
    }
    device.pool().upload(stream, staging, 0);
    return device;
  }

  /** Positions [split, keys) as plain rows at [0, keys - split): ring rows or block rows. */
  private static DevicePagedCache copyWindow(CudaContext context, CudaStream stream, Arena arena,
      DType dtype, int split, int keys, HostPart[] parts) {
    int count = (keys - split + BLOCK - 1) / BLOCK;
    int[] widths = new int[parts.length];
    for (int p = 0; p < parts.length; p++) {
      widths[p] = parts[p].width();
    }
    DevicePagedCache device = new DevicePagedCache(context, dtype, count, widths);
    MemorySegment staging = arena.allocate(device.blockBytes() * count, 16);
    for (int pos = split; pos < keys; pos++) {
      int r = pos - split;
      for (int p = 0; p < parts.length; p++) {
        HostPart part = parts[p];
        Tensor src = part.layout() == null ? part.plain().apply(pos / BLOCK) : part.ring();
        int row = part.layout() == null ? pos % BLOCK : pos % part.ring().rows();
        long rowBytes = (long) part.width() * dtype.bytes();
        MemorySegment.copy(src.data(), src.offset(row, 0), staging,
            (r / BLOCK) * device.blockBytes() + device.partOffset(p) + (r % BLOCK) * rowBytes,
            rowBytes);
      }
    }
    device.pool().upload(stream, staging, 0);
    return device;
  }

  @Override
  public void close() {
    if (blocks != null) {
      blocks.close();
    }
    if (window != null) {
      window.close();
    }
  }
}
