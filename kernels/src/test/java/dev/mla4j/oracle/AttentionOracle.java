package dev.mla4j.oracle;

/**
 * Causal attention in double, straight from the definitions: scores, a two-pass softmax, a
 * weighted sum. Query row {@code i} is head {@code i % n_h} of query token {@code i / n_h} at
 * position {@code firstQueryPos + i / n_h}, attending to cached positions {@code 0..}its own.
 */
public final class AttentionOracle {
  private AttentionOracle() {}

  /**
   * MHA/GQA: query head h reads kv head ⌊h / (n_h/n_kv)⌋.
   *
   * @param q {@code [T·n_h][d_h]}
   * @param k {@code [ctx][n_kv·d_h]}
   * @param v {@code [ctx][n_kv·d_h]}
   * @return {@code [T·n_h][d_h]}
   */
  public static double[] mha(double[] q, double[] k, double[] v, int heads, int kvHeads,
      int headDim, int firstQueryPos, double scale) {
    return attend(q, k, v, heads, kvHeads, headDim, headDim, firstQueryPos, scale);
  }

  /**
   * Naive MLA (spec 4.1): decompress {@code k_nope = W_uk^(j) c} and {@code v = W_uv^(j) c} per kv
   * head j, keys {@code [k_rope ; k_nope]}, queries {@code [q_rope ; q_nope]}.
   *
   * @param qRope {@code [T·n_h][d_r]}, rotated
   * @param qNope {@code [T·n_h][d_nope]}
   * @param kRope {@code [ctx][n_kv·d_r]}, rotated
   * @param latent {@code [ctx][L]}
   * @param wUk {@code [n_kv·d_nope][L]}
   * @param wUv {@code [n_kv·d_h][L]}
   * @return {@code [T·n_h][d_h]}
   */
  public static double[] mlaNaive(double[] qRope, double[] qNope, double[] kRope, double[] latent,
      double[] wUk, double[] wUv, int heads, int kvHeads, int ropeDim, int nopeDim, int headDim,
      int latentDim, int firstQueryPos, double scale) {
    int rows = (qRope.length + qNope.length) / (ropeDim + nopeDim);
    int ctx = latent.length / latentDim;
    int keyDim = ropeDim + nopeDim;
    double[] q = new double[rows * keyDim];
    for (int i = 0; i < rows; i++) {
      System.arraycopy(qRope, i * ropeDim, q, i * keyDim, ropeDim);
      System.arraycopy(qNope, i * nopeDim, q, i * keyDim + ropeDim, nopeDim);
    }
    double[] kNope = LinearOracle.linear(latent, wUk, ctx, latentDim, kvHeads * nopeDim);
    double[] v = LinearOracle.linear(latent, wUv, ctx, latentDim, kvHeads * headDim);
    double[] k = new double[ctx * kvHeads * keyDim];
    for (int t = 0; t < ctx; t++) {
      for (int j = 0; j < kvHeads; j++) {
        int dst = (t * kvHeads + j) * keyDim;
        System.arraycopy(kRope, (t * kvHeads + j) * ropeDim, k, dst, ropeDim);
        System.arraycopy(kNope, (t * kvHeads + j) * nopeDim, k, dst + ropeDim, nopeDim);
      }
    }
    return attend(q, k, v, heads, kvHeads, keyDim, headDim, firstQueryPos, scale);
  }

  /**
   * Absorbed MLA (spec 4.3): scores {@code (qRope·kRope + qLatent·c)·scale}, values the latents;
   * returns the per-head latent outputs u_h.
   *
   * @param qRope {@code [T·n_h][d_r]}
   * @param qLatent {@code [T·n_h][L]}
   * @param kRope {@code [ctx][n_kv·d_r]} per kv head, or {@code [ctx][d_r]} when {@code shared}
   * @param latent {@code [ctx][L]}
   * @return {@code [T·n_h][L]}
   */
  public static double[] mlaAbsorbed(double[] qRope, double[] qLatent, double[] kRope,
      double[] latent, int heads, int kvHeads, int ropeDim, int latentDim, boolean shared,
      int firstQueryPos, double scale) {
    int rows = qLatent.length / latentDim;
    int ctx = latent.length / latentDim;
    int ropeWidth = shared ? ropeDim : kvHeads * ropeDim;
    int group = heads / kvHeads;
    double[] out = new double[rows * latentDim];
    double[] scores = new double[ctx];
    for (int i = 0; i < rows; i++) {
      int h = i % heads;
      int keyOffset = shared ? 0 : (h / group) * ropeDim;
      int visible = firstQueryPos + i / heads + 1;
      for (int t = 0; t < visible; t++) {
        double s = 0;
        for (int e = 0; e < ropeDim; e++) {
          s += qRope[i * ropeDim + e] * kRope[t * ropeWidth + keyOffset + e];
        }
        for (int e = 0; e < latentDim; e++) {
          s += qLatent[i * latentDim + e] * latent[t * latentDim + e];
        }
        scores[t] = s * scale;
      }
      softmaxWeightedSum(scores, visible, latent, latentDim, 0, latentDim, out, i * latentDim);
    }
    return out;
  }

  private static double[] attend(double[] q, double[] k, double[] v, int heads, int kvHeads,
      int keyDim, int valueDim, int firstQueryPos, double scale) {
    int rows = q.length / keyDim;
    int ctx = k.length / (kvHeads * keyDim);
    int group = heads / kvHeads;
    double[] out = new double[rows * valueDim];
    double[] scores = new double[ctx];
    for (int i = 0; i < rows; i++) {
      int j = (i % heads) / group;
      int visible = firstQueryPos + i / heads + 1;
      for (int t = 0; t < visible; t++) {
        double s = 0;
        for (int e = 0; e < keyDim; e++) {
          s += q[i * keyDim + e] * k[(t * kvHeads + j) * keyDim + e];
        }
        scores[t] = s * scale;
      }
      softmaxWeightedSum(scores, visible, v, kvHeads * valueDim, j * valueDim, valueDim, out,
          i * valueDim);
    }
    return out;
  }

  /** {@code out[dst..] = Σ_t softmax(scores[0..n))_t · values[t][offset .. offset+width)}. */
  private static void softmaxWeightedSum(double[] scores, int n, double[] values, int rowWidth,
      int offset, int width, double[] out, int dst) {
    double max = Double.NEGATIVE_INFINITY;
    for (int t = 0; t < n; t++) {
      max = Math.max(max, scores[t]);
    }
    double sum = 0;
    for (int t = 0; t < n; t++) {
      sum += Math.exp(scores[t] - max);
    }
    for (int t = 0; t < n; t++) {
      double p = Math.exp(scores[t] - max) / sum;
      for (int e = 0; e < width; e++) {
        out[dst + e] += p * values[t * rowWidth + offset + e];
      }
    }
  }
}
