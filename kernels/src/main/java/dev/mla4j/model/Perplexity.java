package dev.mla4j.model;

import dev.mla4j.tensor.Tensor;
import java.util.function.IntConsumer;

/**
 * Held-out perplexity over non-overlapping windows of W tokens from the start of a sequence:
 * each window is run from an empty cache and scored on its W-1 next-token predictions;
 * {@code ppl = exp(mean NLL)} over all predictions. A window is used only if at least one token
 * follows it, as in the reference evaluation (reference.json: 212480 bytes give 414 windows of
 * 512, the last 512 bytes unused); a trailing partial window is never used.
 */
public final class Perplexity {
  public static final int DEFAULT_WINDOW = 512;

  /**
   * @param meanNll mean negative log-likelihood in nats per predicted token
   */
  public record Result(int windows, long predictions, double meanNll, double perplexity) {}

  private Perplexity() {}

  /** Byte-level tokens: token id = unsigned byte value. */
  public static int[] byteTokens(byte[] text) {
    int[] out = new int[text.length];
    for (int i = 0; i < text.length; i++) {
      out[i] = text[i] & 0xff;
    }
    return out;
  }

  /** Number of windows of {@code window} tokens that {@code tokens} tokens give. */
  public static int windows(int tokens, int window) {
    if (window < 2) {
      throw new IllegalArgumentException("perplexity window must be >= 2 tokens, got " + window);
    }
    return tokens <= 0 ? 0 : (tokens - 1) / window;
  }

  /**
   * Sum of the NLL of tokens 1..n-1 of {@code window} given their prefixes, from an empty cache.
   * The model must hold at least {@code window.length} tokens.
   */
  public static double windowNll(DecoderModel model, int[] window) {
    model.reset();
    Tensor logits = model.forward(window);
    double sum = 0;
    for (int t = 0; t + 1 < window.length; t++) {
      sum -= Ops.logProb(logits, t, window[t + 1]);
    }
    return sum;
  }

  /**
   * @param maxWindows evaluate at most this many windows (from the start); all if <= 0
   * @param progress optional, called with the number of windows done after each one
   */
  public static Result evaluate(DecoderModel model, int[] tokens, int window, int maxWindows,
      IntConsumer progress) {
    int n = windows(tokens.length, window);
    if (maxWindows > 0) {
      n = Math.min(n, maxWindows);
    }
    if (n == 0) {
      throw new IllegalArgumentException(tokens.length + " tokens are too few for one window of "
          + window + " plus a following token");
    }
    double total = 0;
    int[] w = new int[window];
    for (int i = 0; i < n; i++) {
      System.arraycopy(tokens, i * window, w, 0, window);
      total += windowNll(model, w);
      if (progress != null) {
        progress.accept(i + 1);
      }
    }
    long predictions = (long) n * (window - 1);
    double mean = total / predictions;
    return new Result(n, predictions, mean, Math.exp(mean));
  }
}
