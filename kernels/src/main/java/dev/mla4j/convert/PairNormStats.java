package dev.mla4j.convert;

import dev.mla4j.api.Backend;
import dev.mla4j.model.AttentionInputListener;
import dev.mla4j.model.AttentionWeights;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.function.IntFunction;

/**
 * Calibration for S_2-norm (spec 2.3): from each layer's attention input x, recomputes
 * {@code q = W_q x (+b_q)} and {@code k = W_k x (+b_k)} without RoPE (pair norms are
 * rotation-invariant), takes per token, head and pair i the norm {@code sqrt(v_i² + v_{i+F}²)}
 * (half-split layout), averages it over the tokens of the call and then over calls. One call of
 * {@link #onAttentionInput} is one calibration sequence, so the forward pass must hand each
 * sequence to a layer in one piece for the two-level mean of the reference code.
 *
 * <p>Thread-safety: one forward pass at a time (calls are serialised by the model).
 */
public final class PairNormStats implements AttentionInputListener {
  private final Backend backend;
  private final IntFunction<AttentionWeights> weights;
  private final int heads;
  private final int kvHeads;
  private final int headDim;
  private final double[][][] qSum; // [layers][n_h][F]: sum over sequences of per-sequence means
  private final double[][][] kSum; // [layers][n_kv][F]
  private final int[] sequences;

  /**
   * @param weights layer index → that layer's original attention weights
   */
  public PairNormStats(Backend backend, int layers, int heads, int kvHeads, int headDim,
      IntFunction<AttentionWeights> weights) {
    if (headDim % 2 != 0 || heads % kvHeads != 0) {
      throw new IllegalArgumentException("need even d_h and n_h a multiple of n_kv, got d_h="
          + headDim + " n_h=" + heads + " n_kv=" + kvHeads);
    }
    this.backend = backend;
    this.weights = weights;
    this.heads = heads;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.qSum = new double[layers][heads][headDim / 2];
    this.kSum = new double[layers][kvHeads][headDim / 2];
    this.sequences = new int[layers];
  }

  @Override
  public void onAttentionInput(int layer, Tensor x) {
    if (x.rows() == 0) {
      return;
    }
    AttentionWeights w = weights.apply(layer);
    try (Arena arena = Arena.ofShared()) {
      accumulate(project(arena, x, w.wq(), w.bq()), heads, qSum[layer]);
      accumulate(project(arena, x, w.wk(), w.bk()), kvHeads, kSum[layer]);
    }
    sequences[layer]++;
  }

  private Tensor project(Arena arena, Tensor x, Tensor w, Tensor bias) {
    Tensor y = Tensor.allocate(arena, DType.F32, x.rows(), w.rows());
    backend.linear(x, w, y);
    if (bias != null) {
      for (int t = 0; t < y.rows(); t++) {
        for (int o = 0; o < y.cols(); o++) {
          y.set(t, o, y.get(t, o) + bias.get(0, o));
        }
      }
    }
    return y;
  }

  /** Adds the token mean of the pair norms of {@code y [T][n·d_h]} to {@code sum [n][F]}. */
  private void accumulate(Tensor y, int n, double[][] sum) {
    int pairs = headDim / 2;
    double[][] seq = new double[n][pairs];
    for (int t = 0; t < y.rows(); t++) {
      for (int h = 0; h < n; h++) {
        int base = h * headDim;
        for (int i = 0; i < pairs; i++) {
          double a = y.get(t, base + i);
          double b = y.get(t, base + i + pairs);
          seq[h][i] += Math.sqrt(a * a + b * b);
        }
      }
    }
    for (int h = 0; h < n; h++) {
      for (int i = 0; i < pairs; i++) {
        sum[h][i] += seq[h][i] / y.rows();
      }
    }
  }

  /** Q̄ {@code [layers][n_h][F]}. */
  public double[][][] queryNorms() {
    return mean(qSum);
  }

  /** K̄ {@code [layers][n_kv][F]}. */
  public double[][][] keyNorms() {
    return mean(kSum);
  }

  public int sequences(int layer) {
    return sequences[layer];
  }

  private double[][][] mean(double[][][] sum) {
    double[][][] out = new double[sum.length][][];
    for (int l = 0; l < sum.length; l++) {
      if (sequences[l] == 0) {
        throw new IllegalStateException("no calibration sequence reached layer " + l);
      }
      out[l] = new double[sum[l].length][];
      for (int h = 0; h < sum[l].length; h++) {
        out[l][h] = sum[l][h].clone();
        for (int i = 0; i < out[l][h].length; i++) {
          out[l][h][i] /= sequences[l];
        }
      }
    }
    return out;
  }
}
