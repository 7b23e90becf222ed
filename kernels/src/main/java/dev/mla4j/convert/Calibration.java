package dev.mla4j.convert;

import dev.mla4j.api.Backend;
import dev.mla4j.model.AttentionInputListener;
import dev.mla4j.model.DecoderModel;
import dev.mla4j.model.LlamaModel;
import dev.mla4j.model.LlamaWeights;
import dev.mla4j.model.MlaAttentionWeights;
import dev.mla4j.model.MlaModel;
import dev.mla4j.tensor.DType;
import java.lang.foreign.Arena;
import java.util.function.IntConsumer;

/**
 * Calibration passes (spec 2.3, 3.7, 9.2): windows of calibration tokens through a model, each
 * layer's attention input handed to a listener.
 *
 * <p>Two passes, because the two statistics describe different models. The pair norms that
 * choose the kept RoPE pairs come from the original model. The input moments of the
 * activation-aware low rank come from the partial-RoPE model (kept pairs applied, keys and values
 * still exact, SVD method none): that is the model the low rank compresses, and its layer inputs
 * differ markedly from the original's once RoPE is gone from most pairs, so moments of the
 * original model weigh the wrong input directions. Measured on tiny-code-mha (README, issue 3).
 */
public final class Calibration {
  private Calibration() {}

  /**
   * Runs {@code windows} consecutive windows of {@code window} tokens of {@code ids} through the
   * original model.
   *
   * @param done called with the number of windows done
   */
  public static void original(Backend b, LlamaWeights w, int[] ids, int window, int windows,
      AttentionInputListener listener, IntConsumer done) {
    try (LlamaModel m = new LlamaModel(w, b, window, DType.F32, null)) {
      run(m, ids, window, windows, listener, done);
    }
  }

  /**
   * As {@link #original}, through the partial-RoPE model that keeps {@code kept}
   * {@code [layers][n_kv][r]} and is otherwise exact, and returns its input moments.
   */
  public static InputMoments partialRopeMoments(Backend b, LlamaWeights w, int[][][] kept,
      int[] ids, int window, int windows, IntConsumer done) {
    var c = w.config();
    InputMoments moments = new InputMoments(b, c.layers(), c.hiddenSize());
    try (Arena arena = Arena.ofShared()) {
      MlaAttentionWeights[] exact = MlaConverter.convertModel(b, c, l -> w.layer(l).attention(),
          kept, MlaConverter.Options.joint(1).withSvd(MlaConverter.SvdMethod.NONE), null, l -> {},
          arena);
      try (MlaModel m = new MlaModel(w, exact, b, window, DType.F32)) {
        run(m, ids, window, windows, moments, done);
      }
    }
    return moments;
  }

  /** Windows available in {@code tokens} tokens, at most {@code max} when max > 0. */
  public static int windows(int tokens, int window, int max) {
    int n = tokens / window;
    return max > 0 ? Math.min(n, max) : n;
  }

  private static void run(DecoderModel m, int[] ids, int window, int windows,
      AttentionInputListener listener, IntConsumer done) {
    if (windows < 1 || (long) windows * window > ids.length) {
      throw new IllegalArgumentException("calibration needs " + windows + " windows of " + window
          + " tokens, the file has " + ids.length + " tokens");
    }
    int[] chunk = new int[window];
    for (int i = 0; i < windows; i++) {
      System.arraycopy(ids, i * window, chunk, 0, window);
      m.reset();
      m.forward(chunk, listener, null);
      done.accept(i + 1);
    }
  }
}
