package dev.mla4j.cache;

import dev.mla4j.api.MhaShape;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;

/** Ordinary MHA/GQA cache: per token and layer K and V, {@code [n_kv·d_h]} each, 64-token blocks. */
public final class KvCache implements AutoCloseable {
  private static final int KEYS = 0;
  private static final int VALUES = 1;

  private final MhaShape shape;
  private final PagedLayers pages;

  public KvCache(MhaShape shape, int layers, DType dtype, int maxTokens) {
    this.shape = shape;
    this.pages = new PagedLayers("KV cache", layers,
        new int[] {shape.kvWidth(), shape.kvWidth()}, dtype, maxTokens);
  }

  public MhaShape shape() {
    return shape;
  }

  public DType dtype() {
    return pages.dtype();
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

  /** Bytes per token over all layers: layers·2·n_kv·d_h·sizeof(dtype), spec 5.1. */
  public long bytesPerToken() {
    return pages.bytesPerToken();
  }

  /**
   * Appends T tokens to {@code layer}.
   *
   * @param keys {@code [T][n_kv·d_h]}, already rotated
   * @param values {@code [T][n_kv·d_h]}
   */
  public void append(int layer, Tensor keys, Tensor values) {
    pages.append(layer, keys, values);
  }

  /** Key rows of one block: {@code [64][n_kv·d_h]}. */
  public Tensor keyBlock(int layer, int block) {
    return pages.block(layer, block, KEYS);
  }

  /** Value rows of one block: {@code [64][n_kv·d_h]}. */
  public Tensor valueBlock(int layer, int block) {
    return pages.block(layer, block, VALUES);
  }

  public void clear() {
    pages.clear();
  }

  public void checkQueries(int layer, int firstQueryPos, int count) {
    pages.checkQueries(layer, firstQueryPos, count);
  }

  @Override
  public void close() {
    pages.close();
  }
}
