package dev.mla4j.testing;

import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cache.QuantizedBlock;
import dev.mla4j.oracle.QuantDecoder;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.function.BiConsumer;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * Fills caches for attention tests and reads them back for the oracle. Tokens are appended in
 * random chunk sizes so block boundaries fall inside appends; optional "future" tokens after the
 * valid ones hold NaN values and huge keys, which a causal kernel must never let through.
 */
public final class Caches {
  /** Huge but finite in every cache dtype (F16 tops out at 65504). */
  private static final float HUGE = 6e4f;

  private Caches() {}

  /** Appends {@code valid} N(0,1) tokens then {@code poisoned} NaN/huge tokens to {@code layer}. */
  public static void fill(Arena arena, Seeds.Case c, LatentCache cache, int layer, int valid,
      int poisoned) {
    int latent = cache.shape().latentDim();
    int rope = cache.shape().ropeKeyWidth();
    appendInChunks(c, valid, (start, n) -> cache.append(layer,
        Inputs.gaussian(arena, c, DType.F32, n, latent, 1),
        Inputs.gaussian(arena, c, DType.F32, n, rope, 1)));
    if (poisoned > 0) {
      cache.append(layer, constant(arena, poisoned, latent, Float.NaN),
          constant(arena, poisoned, rope, HUGE));
    }
  }

  /**
   * Appends {@code valid} tokens whose latent rows are N(0,1) times 2^k, k rising from -5 to 4
   * along the sequence (the integer part of 9·t / valid - 5, plus 0 or 1 at random), and whose
   * 32-column blocks are further times 2^0 to 2^-3 (block b: 2^-(b % 4)); rope keys N(0,1).
   */
  public static void fillSpread(Arena arena, Seeds.Case c, LatentCache cache, int layer,
      int valid) {
    fillSpread(arena, c, cache, layer, valid, 0);
  }

  /**
   * As {@link #fillSpread(Arena, Seeds.Case, LatentCache, int, int)}, with the tokens of every
   * odd 32-token block (positions 32..63, 96..127, ...) further times 2^-oddBlockDrop.
   */
  public static void fillSpread(Arena arena, Seeds.Case c, LatentCache cache, int layer,
      int valid, int oddBlockDrop) {
    int latent = cache.shape().latentDim();
    int rope = cache.shape().ropeKeyWidth();
    appendInChunks(c, valid, (start, n) -> {
      Tensor rows = Inputs.gaussian(arena, c, DType.F32, n, latent, 1);
      float[] values = new float[n * latent];
      for (int t = 0; t < n; t++) {
        int k = 9 * (start + t) / valid - 5 + c.nextInt(2)
            - ((start + t) / 32 % 2 == 1 ? oddBlockDrop : 0);
        for (int col = 0; col < latent; col++) {
          values[t * latent + col] = Math.scalb(rows.get(t, col), k - (col / 32) % 4);
        }
      }
      cache.append(layer, Tensor.copyOf(arena, DType.F32, n, latent, values),
          Inputs.gaussian(arena, c, DType.F32, n, rope, 1));
    });
  }

  /** As {@link #fill(Arena, Seeds.Case, LatentCache, int, int, int)} for K and V. */
  public static void fill(Arena arena, Seeds.Case c, KvCache cache, int layer, int valid,
      int poisoned) {
    int width = cache.shape().kvWidth();
    appendInChunks(c, valid, (start, n) -> cache.append(layer,
        Inputs.gaussian(arena, c, DType.F32, n, width, 1),
        Inputs.gaussian(arena, c, DType.F32, n, width, 1)));
    if (poisoned > 0) {
      cache.append(layer, constant(arena, poisoned, width, HUGE),
          constant(arena, poisoned, width, Float.NaN));
    }
  }

  private static void appendInChunks(Seeds.Case c, int total, BiConsumer<Integer, Integer> append) {
    int done = 0;
    while (done < total) {
      int n = Math.min(total - done, 1 + c.nextInt(80));
      append.accept(done, n);
      done += n;
    }
  }

  private static Tensor constant(Arena arena, int rows, int cols, float v) {
    float[] values = new float[rows * cols];
    java.util.Arrays.fill(values, v);
    return Tensor.copyOf(arena, DType.F32, rows, cols, values);
  }

  /**
   * Latent rows {@code [tokens][L]} of a layer, as stored: read or, for a quantized cache,
   * decoded by the oracle's {@link QuantDecoder} (positions in the window read from the ring).
   */
  public static double[] latents(LatentCache cache, int layer, int tokens) {
    if (!cache.format().isQuantized()) {
      return gather(tokens, cache.shape().latentDim(), b -> cache.latentBlock(layer, b));
    }
    return decode(tokens, cache.shape().latentDim(), cache.quantizedLength(layer),
        cache.format().window(), b -> cache.latentCodes(layer, b), () -> cache.latentWindow(layer));
  }

  /** Rope-key rows {@code [tokens][ropeKeyWidth]} of a layer, as stored (or decoded). */
  public static double[] ropeKeys(LatentCache cache, int layer, int tokens) {
    if (!cache.ropeKeysQuantized()) {
      return gather(tokens, cache.shape().ropeKeyWidth(), b -> cache.ropeBlock(layer, b));
    }
    return decode(tokens, cache.shape().ropeKeyWidth(), cache.quantizedLength(layer),
        cache.format().window(), b -> cache.ropeCodes(layer, b), () -> cache.ropeWindow(layer));
  }

  public static double[] keys(KvCache cache, int layer, int tokens) {
    if (!cache.format().isQuantized()) {
      return gather(tokens, cache.shape().kvWidth(), b -> cache.keyBlock(layer, b));
    }
    return decode(tokens, cache.shape().kvWidth(), cache.quantizedLength(layer),
        cache.format().window(), b -> cache.keyCodes(layer, b), () -> cache.keyWindow(layer));
  }

  public static double[] values(KvCache cache, int layer, int tokens) {
    if (!cache.format().isQuantized()) {
      return gather(tokens, cache.shape().kvWidth(), b -> cache.valueBlock(layer, b));
    }
    return decode(tokens, cache.shape().kvWidth(), cache.quantizedLength(layer),
        cache.format().window(), b -> cache.valueCodes(layer, b), () -> cache.valueWindow(layer));
  }

  /** Positions below {@code quantized} decoded from blocks, later ones read from the ring. */
  private static double[] decode(int tokens, int width, int quantized, int window,
      IntFunction<QuantizedBlock> block, Supplier<Tensor> ring) {
    double[] out = new double[tokens * width];
    for (int pos = 0; pos < tokens; pos++) {
      double[] row = pos < quantized
          ? QuantDecoder.row(block.apply(pos / PagedLayers.BLOCK_TOKENS),
              pos % PagedLayers.BLOCK_TOKENS)
          : TensorReader.read(ring.get().row(pos % window));
      System.arraycopy(row, 0, out, pos * width, width);
    }
    return out;
  }

  private static double[] gather(int tokens, int width, IntFunction<Tensor> block) {
    double[] out = new double[tokens * width];
    for (int t0 = 0; t0 < tokens; t0 += PagedLayers.BLOCK_TOKENS) {
      int n = Math.min(PagedLayers.BLOCK_TOKENS, tokens - t0);
      double[] rows = TensorReader.read(block.apply(t0 / PagedLayers.BLOCK_TOKENS), n);
      System.arraycopy(rows, 0, out, t0 * width, rows.length);
    }
    return out;
  }
}
