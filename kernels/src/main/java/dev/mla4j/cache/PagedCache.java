package dev.mla4j.cache;

import dev.mla4j.tensor.DType;

/**
 * What every cache has, whatever it stores per token: its {@link CacheFormat}, its
 * {@link PagedLayers} and their lengths and sizes. {@link LatentCache} (MLA) and {@link KvCache}
 * (the MHA baseline) add their own parts and names for them.
 */
public abstract sealed class PagedCache implements AutoCloseable permits KvCache, LatentCache {
  private final CacheFormat format;
  final PagedLayers pages;

  PagedCache(CacheFormat format, PagedLayers pages) {
    this.format = format;
    this.pages = pages;
  }

  public CacheFormat format() {
    return format;
  }

  /** Storage dtype of a plain cache, and of a quantized one's plain parts and window. */
  public DType dtype() {
    return format.dtype();
  }

  public int layers() {
    return pages.layers();
  }

  public int maxTokens() {
    return pages.maxTokens();
  }

  public int length(int layer) {
    return pages.length(layer);
  }

  /** Positions {@code [0, quantizedLength)} are in blocks, later ones in the window rings. */
  public int quantizedLength(int layer) {
    return format.isQuantized() ? pages.quantizedLength(layer) : pages.length(layer);
  }

  /**
   * Bytes per token over all layers: the plain parts' rows in {@link #dtype}, and for each
   * quantized part its codes plus one BF16 scale per group ({@link QuantizedLayout#bytesPerRow}).
   */
  public long bytesPerToken() {
    return pages.bytesPerToken();
  }

  /** Forgets every token of every layer; the blocks stay allocated for reuse. */
  public void clear() {
    pages.clear();
  }

  /** Checks that {@code count} query tokens from {@code firstQueryPos} are cached in {@code layer}. */
  public void checkQueries(int layer, int firstQueryPos, int count) {
    pages.checkQueries(layer, firstQueryPos, count);
  }

  @Override
  public void close() {
    pages.close();
  }
}
