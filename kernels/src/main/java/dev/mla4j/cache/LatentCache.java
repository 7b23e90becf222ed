package dev.mla4j.cache;

import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;

/**
 * MLA cache (spec 4.2): per token and layer the latent {@code c [L]} and the rope keys
 * {@code k_R [n_kv·d_r]} (or {@code [d_r]} when shared), stored after RoPE, in blocks of 64 tokens.
 * Plain ({@link CacheFormat#plain}) or quantized: the latent in int8/int4 as one segment of L,
 * the rope keys in the format's dtype or, optionally, quantized per kv head (segments of d_r).
 * A plain cache holds {@code layers·(n_kv·d_r + L)·sizeof(dtype)} bytes per token (spec 5.1,
 * {@link #bytesPerToken}).
 */
public final class LatentCache extends PagedCache {
  private static final int LATENT = 0;
  private static final int ROPE = 1;

  private final MlaShape shape;

  /** A plain cache in {@code dtype} (F32, BF16 or F16). */
  public LatentCache(MlaShape shape, int layers, DType dtype, int maxTokens) {
    this(shape, layers, CacheFormat.plain(dtype), maxTokens);
  }

  public LatentCache(MlaShape shape, int layers, CacheFormat format, int maxTokens) {
    PagedLayers.Part latent = new PagedLayers.Part(shape.latentDim(), format.dtype(),
        format.isQuantized() ? new QuantizedLayout(format.quantization(), 1, shape.latentDim(),
            format.groupSize()) : null);
    int ropeSegments = shape.ropeKeys() == RopeKeyLayout.SHARED ? 1 : shape.kvHeads();
    boolean quantizeRope = format.quantizeRopeKeys() && shape.ropeDim() > 0;
    PagedLayers.Part rope = new PagedLayers.Part(shape.ropeKeyWidth(), format.dtype(),
        quantizeRope ? new QuantizedLayout(format.quantization(), ropeSegments, shape.ropeDim(),
            format.groupSize()) : null);
    super(format, new PagedLayers("latent cache", layers, new PagedLayers.Part[] {latent, rope},
        format.window(), maxTokens));
    this.shape = shape;
  }

  public MlaShape shape() {
    return shape;
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

  /** Latent rows of one block of a plain cache: {@code [64][L]}. */
  public Tensor latentBlock(int layer, int block) {
    return pages.block(layer, block, LATENT);
  }

  /** Rope-key rows of one block when they are stored plain: {@code [64][ropeKeyWidth]}. */
  public Tensor ropeBlock(int layer, int block) {
    return pages.block(layer, block, ROPE);
  }

  /** Quantized latents of one block (positions below {@link #quantizedLength} only). */
  public QuantizedBlock latentCodes(int layer, int block) {
    return pages.quantizedBlock(layer, block, LATENT);
  }

  /** Quantized rope keys of one block, when the format quantizes them. */
  public QuantizedBlock ropeCodes(int layer, int block) {
    return pages.quantizedBlock(layer, block, ROPE);
  }

  public boolean ropeKeysQuantized() {
    return pages.quantization(ROPE) != null;
  }

  /** The latent window ring {@code [W][L]}: position p in row {@code p mod W}. */
  public Tensor latentWindow(int layer) {
    return pages.window(layer, LATENT);
  }

  /** The rope-key window ring {@code [W][ropeKeyWidth]}, when rope keys are quantized. */
  public Tensor ropeWindow(int layer) {
    return pages.window(layer, ROPE);
  }

  /** Decodes the latent of position {@code pos} into {@code dst [L]} (scalar kernels). */
  public void readLatent(int layer, int pos, float[] dst) {
    pages.readRow(layer, LATENT, pos, dst, 0);
  }

  /** Decodes the rope keys of position {@code pos} into {@code dst [ropeKeyWidth]}. */
  public void readRopeKeys(int layer, int pos, float[] dst) {
    pages.readRow(layer, ROPE, pos, dst, 0);
  }
}
