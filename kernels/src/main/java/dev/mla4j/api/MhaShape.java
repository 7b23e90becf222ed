package dev.mla4j.api;

/**
 * Shape of one ordinary MHA/GQA attention layer (the baseline).
 *
 * @param heads n_h query heads
 * @param kvHeads n_kv key/value heads; query head h reads kv head ⌊h / (n_h/n_kv)⌋
 * @param headDim d_h
 * @param softmaxScale usually 1/sqrt(d_h)
 */
public record MhaShape(int heads, int kvHeads, int headDim, float softmaxScale) {

  public MhaShape {
    if (heads <= 0 || kvHeads <= 0 || headDim <= 0) {
      throw new IllegalArgumentException("MHA shape needs n_h, n_kv, d_h > 0: " + this);
    }
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "n_h=" + heads + " is not a multiple of n_kv=" + kvHeads + " (GQA groups must be equal)");
    }
    if (!(softmaxScale > 0) || Float.isInfinite(softmaxScale)) {
      throw new IllegalArgumentException("softmax scale must be finite and > 0, got " + softmaxScale);
    }
  }

  public static MhaShape of(int heads, int kvHeads, int headDim) {
    return new MhaShape(heads, kvHeads, headDim, (float) (1 / Math.sqrt(headDim)));
  }

  public int groupSize() {
    return heads / kvHeads;
  }

  /** Width of one token's K (or V) row in the cache: n_kv·d_h. */
  public int kvWidth() {
    return kvHeads * headDim;
  }

  /** Cached elements per token for this layer: 2·n_kv·d_h (spec 5.1). */
  public int cacheElementsPerToken() {
    return 2 * kvWidth();
  }
}
