package dev.mla4j.api;

/**
 * Shape of one MLA attention layer in absorbed form (spec 4.3).
 *
 * @param heads n_h, query heads
 * @param kvHeads n_kv; query head h uses rope key ⌊h / (n_h/n_kv)⌋ (ignored for SHARED keys)
 * @param ropeDim d_r = 2r, rope dims per key
 * @param latentDim L = n_kv·d_kv, the latent cached per token
 * @param ropeKeys per-kv-head (MHA2MLA) or shared (DeepSeek) rope keys
 * @param softmaxScale explicit scale of the scores: 1/sqrt(d_h) for MHA2MLA, not 1/sqrt(d_r+L)
 */
public record MlaShape(
    int heads, int kvHeads, int ropeDim, int latentDim, RopeKeyLayout ropeKeys, float softmaxScale) {

  public MlaShape {
    if (heads <= 0 || kvHeads <= 0 || ropeDim < 0 || latentDim <= 0) {
      throw new IllegalArgumentException("MLA shape needs n_h, n_kv, L > 0 and d_r >= 0: " + this);
    }
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "n_h=" + heads + " is not a multiple of n_kv=" + kvHeads + " (GQA groups must be equal)");
    }
    if (!(softmaxScale > 0) || Float.isInfinite(softmaxScale)) {
      throw new IllegalArgumentException("softmax scale must be finite and > 0, got " + softmaxScale);
    }
  }

  /** MHA2MLA layer: per-kv-head rope keys, d_kv per kv head, scale 1/sqrt(d_h). */
  public static MlaShape mha2mla(int heads, int kvHeads, int headDim, int r, int dKv) {
    return new MlaShape(heads, kvHeads, 2 * r, kvHeads * dKv, RopeKeyLayout.PER_KV_HEAD,
        (float) (1 / Math.sqrt(headDim)));
  }

  /** Width of one token's rope-key row in the cache: n_kv·d_r, or d_r when shared. */
  public int ropeKeyWidth() {
    return ropeKeys == RopeKeyLayout.SHARED ? ropeDim : kvHeads * ropeDim;
  }

  /** Offset of the rope key that query head {@code h} uses inside a cache rope row. */
  public int ropeKeyOffset(int h) {
    return ropeKeys == RopeKeyLayout.SHARED ? 0 : (h / (heads / kvHeads)) * ropeDim;
  }

  /** Cached elements per token for this layer: n_kv·d_r + L (spec 5.1). */
  public int cacheElementsPerToken() {
    return ropeKeyWidth() + latentDim;
  }
}
