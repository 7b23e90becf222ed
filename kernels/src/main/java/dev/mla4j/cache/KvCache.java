package dev.mla4j.cache;

import dev.mla4j.api.MhaShape;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;

/**
 * Ordinary MHA/GQA cache: per token and layer K and V, {@code [n_kv·d_h]} each, 64-token blocks.
 * Plain, or quantized like the MLA latent (int8/int4, the same group sizes and window) with one
 * segment per kv head, so the MLA-vs-MHA comparison stays fair at every format. A plain cache
 * holds {@code layers·2·n_kv·d_h·sizeof(dtype)} bytes per token (spec 5.1, {@link #bytesPerToken}).
 */
public final class KvCache extends PagedCache {
  private static final int KEYS = 0;
  private static final int VALUES = 1;

  private final MhaShape shape;

  /** A plain cache in {@code dtype} (F32, BF16 or F16). */
  public KvCache(MhaShape shape, int layers, DType dtype, int maxTokens) {
    this(shape, layers, CacheFormat.plain(dtype), maxTokens);
  }

  public KvCache(MhaShape shape, int layers, CacheFormat format, int maxTokens) {
    if (format.quantizeRopeKeys()) {
      throw new IllegalArgumentException("KV cache format " + format + ": rope-key quantization is "
          + "an MLA option; an MHA cache quantizes all of K and V already");
    }
    QuantizedLayout quant = format.isQuantized() ? new QuantizedLayout(format.quantization(),
        shape.kvHeads(), shape.headDim(), format.groupSize()) : null;
    PagedLayers.Part part = new PagedLayers.Part(shape.kvWidth(), format.dtype(), quant);
    super(format, new PagedLayers("KV cache", layers, new PagedLayers.Part[] {part, part},
        format.window(), maxTokens));
    this.shape = shape;
  }

  public MhaShape shape() {
    return shape;
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

  /** Key rows of one block of a plain cache: {@code [64][n_kv·d_h]}. */
  public Tensor keyBlock(int layer, int block) {
    return pages.block(layer, block, KEYS);
  }

  /** Value rows of one block of a plain cache: {@code [64][n_kv·d_h]}. */
  public Tensor valueBlock(int layer, int block) {
    return pages.block(layer, block, VALUES);
  }

  public QuantizedBlock keyCodes(int layer, int block) {
    return pages.quantizedBlock(layer, block, KEYS);
  }

  public QuantizedBlock valueCodes(int layer, int block) {
    return pages.quantizedBlock(layer, block, VALUES);
  }

  /** Key window ring {@code [W][n_kv·d_h]}: position p in row {@code p mod W}. */
  public Tensor keyWindow(int layer) {
    return pages.window(layer, KEYS);
  }

  public Tensor valueWindow(int layer) {
    return pages.window(layer, VALUES);
  }

  /** Decodes the keys of position {@code pos} into {@code dst [n_kv·d_h]} (scalar kernels). */
  public void readKeys(int layer, int pos, float[] dst) {
    pages.readRow(layer, KEYS, pos, dst, 0);
  }

  public void readValues(int layer, int pos, float[] dst) {
    pages.readRow(layer, VALUES, pos, dst, 0);
  }
}
