package dev.mla4j.cache;

import dev.mla4j.api.MlaShape;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;

/**
 * MLA cache (spec 4.2): per token and layer the latent {@code c [L]} and the rope keys
 * {@code k_R [n_kv·d_r]} (or {@code [d_r]} when shared), stored after RoPE, in blocks of 64 tokens.
 */
public final class LatentCache implements AutoCloseable {
  private static final int LATENT = 0;
  private static final int ROPE = 1;

  private final MlaShape shape;
  private final PagedLayers pages;

  public LatentCache(MlaShape shape, int layers, DType dtype, int maxTokens) {
    this.shape = shape;
    this.pages = new PagedLayers("latent cache", layers,
        new int[] {shape.latentDim(), shape.ropeKeyWidth()}, dtype, maxTokens);
  }

  public MlaShape shape() {
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

  /** Bytes per token over all layers: layers·(n_kv·d_r + L)·sizeof(dtype), spec 5.1. */
  public long bytesPerToken() {
    return pages.bytesPerToken();
  }

  /**
   * Appends T tokens to {@code layer}.
   *
   * @param latent {@code [T][L]}
   * @param ropeKeys {@code [T][n_kv·d_r]} (or {@code [T][d_r]} shared), already rotated
   */
  public void append(int layer, Tensor latent, Tensor ropeKeys) {
    pages.append(layer, latent, ropeKeys);
  }

  /** Latent rows of one block: {@code [64][L]}. */
  public Tensor latentBlock(int layer, int block) {
    return pages.block(layer, block, LATENT);
  }

  /** Rope-key rows of one block: {@code [64][ropeKeyWidth]}. */
  public Tensor ropeBlock(int layer, int block) {
    return pages.block(layer, block, ROPE);
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
