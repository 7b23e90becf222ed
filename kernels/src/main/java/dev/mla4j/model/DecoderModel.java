package dev.mla4j.model;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;

/**
 * The parts of a Llama-family forward pass that do not depend on how attention is done:
 * embedding, RMSNorms, SwiGLU MLP, residuals, final norm and LM head, all projections through
 * {@link Backend#linear}. A model object is one sequence: its cache grows with every
 * {@link #forward} call (prefill many tokens at once, or decode one at a time) until
 * {@link #reset()}.
 */
public abstract class DecoderModel implements AutoCloseable {
  protected final LlamaWeights weights;
  protected final ModelConfig config;
  protected final Backend backend;
  protected final int maxTokens;
  /** Activations; shared so the backend's worker threads can use them. */
  protected final Arena arena = Arena.ofShared();

  private final Tensor x;
  private final Tensor xn;
  private final Tensor attnOut;
  private final Tensor gate;
  private final Tensor up;
  private final Tensor logits;

  protected DecoderModel(LlamaWeights weights, Backend backend, int maxTokens) {
    if (maxTokens <= 0) {
      throw new IllegalArgumentException("maxTokens must be > 0, got " + maxTokens);
    }
    this.weights = weights;
    this.config = weights.config();
    this.backend = backend;
    this.maxTokens = maxTokens;
    int d = config.hiddenSize();
    this.x = Ops.f32(arena, maxTokens, d);
    this.xn = Ops.f32(arena, maxTokens, d);
    this.attnOut = Ops.f32(arena, maxTokens, d);
    this.gate = Ops.f32(arena, maxTokens, config.intermediateSize());
    this.up = Ops.f32(arena, maxTokens, config.intermediateSize());
    this.logits = Ops.f32(arena, maxTokens, config.vocabSize());
  }

  public ModelConfig config() {
    return config;
  }

  /** Tokens processed since the last reset. */
  public abstract int length();

  /** Empties the cache, starting a new sequence at position 0. */
  public abstract void reset();

  /**
   * One attention block: {@code out = W_o · attention(xn)} for the T new tokens at positions
   * {@code positions}, appending them to the cache of {@code layer}.
   *
   * @param xn {@code [T][d]} normed input
   * @param out {@code [T][d]}
   */
  protected abstract void attention(int layer, Tensor xn, int[] positions, Tensor out);

  /** As {@link #forward(int[], AttentionInputListener, HiddenStateListener)} without listeners. */
  public Tensor forward(int[] tokens) {
    return forward(tokens, null, null);
  }

  /**
   * Runs the T tokens after the cached ones and returns their logits.
   *
   * @param attentionInputs optional, sees every layer's attention input
   * @param hiddenStates optional, sees the residual stream
   * @return {@code [T][vocab]} F32, valid until the next call
   */
  public Tensor forward(int[] tokens, AttentionInputListener attentionInputs,
      HiddenStateListener hiddenStates) {
    int n = tokens.length;
    int start = length();
    if (n == 0 || start + n > maxTokens) {
      throw new IllegalArgumentException("forward of " + n + " tokens after " + start
          + " cached ones; the model was made for 1.." + maxTokens + " tokens in all");
    }
    int window = config.slidingWindow();
    if (window > 0 && start + n > window) {
      throw new IllegalArgumentException("sequence of " + (start + n) + " tokens is longer than "
          + "the model's sliding_window=" + window + ", which mla4j does not apply yet: evaluate "
          + "windows of at most " + window + " tokens");
    }
    int[] positions = new int[n];
    for (int t = 0; t < n; t++) {
      positions[t] = start + t;
    }
    Tensor h = x.rows(0, n);
    Tensor hn = xn.rows(0, n);
    Tensor a = attnOut.rows(0, n);
    Tensor g = gate.rows(0, n);
    Tensor u = up.rows(0, n);
    Ops.embed(weights.embedding(), tokens, h);
    notify(hiddenStates, 0, h);
    double eps = config.rmsNormEps();
    for (int l = 0; l < config.layers(); l++) {
      LayerWeights w = weights.layer(l);
      Ops.rmsNorm(h, w.inputNorm(), eps, hn);
      if (attentionInputs != null) {
        attentionInputs.onAttentionInput(l, hn);
      }
      attention(l, hn, positions, a);
      Ops.add(h, a);
      Ops.rmsNorm(h, w.postNorm(), eps, hn);
      backend.linear(hn, w.wGate(), g);
      backend.linear(hn, w.wUp(), u);
      Ops.siluMul(g, u);
      backend.linear(g, w.wDown(), a);
      Ops.add(h, a);
      if (l < config.layers() - 1) {
        notify(hiddenStates, l + 1, h);
      }
    }
    Ops.rmsNorm(h, weights.finalNorm(), eps, hn);
    notify(hiddenStates, config.layers(), hn);
    Tensor out = logits.rows(0, n);
    backend.linear(hn, weights.lmHead(), out);
    return out;
  }

  private static void notify(HiddenStateListener l, int index, Tensor h) {
    if (l != null) {
      l.onHiddenState(index, h);
    }
  }

  /** Frees the activations and cache; the weights and backend stay open (owned by the caller). */
  @Override
  public void close() {
    arena.close();
  }
}
