package dev.mla4j.convert;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;

/**
 * Row weights that turn the activation-aware objective of spec 9.2, the raw error
 * {@code E‖Δk‖² + E‖Δv‖²} of the projected keys and values, into the error the attention layer
 * actually sees. Per kv head j, with the NoPE key error {@code Δk = ΔW_k x} and value error
 * {@code Δv = ΔW_v x}:
 * <ul>
 *   <li>a key error moves the logit of query head h in j's group by
 *       {@code δs = q_hᴺ·Δk / √d_h}; through the softmax Jacobian that moves the layer output by
 *       about {@code δs · W_o^(h)(v − o)}, so its weight is
 *       {@code G_k^(j) = Σ_h (c_h / d_h) E[q_hᴺ q_hᴺᵀ]} {@code [d_h − 2r][d_h − 2r]} with
 *       {@code c_h = E‖W_o^(h)(v − E v)‖²}, the spread of head h's values in output space;</li>
 *   <li>a value error moves the output by {@code W_o^(h) Δv}, so its weight is
 *       {@code G_v^(j) = Σ_h W_o^(h)ᵀ W_o^(h)} {@code [d_h][d_h]}.</li>
 * </ul>
 * Queries and keys come from different tokens, treated as independent draws of the layer input
 * x, so {@code E[q_hᴺ q_hᴺᵀ] = W_q,h S W_q,hᵀ} (plus the bias terms) with S the input second
 * moment. Both terms are squared output errors, so keys and values are weighed against each other
 * without a free balance parameter. Minimising {@code Σ_b ‖A_b ΔW_b S^{1/2}‖²} with
 * {@code A_bᵀA_b = G_b} only changes which latent subspace is kept: for a fixed down projection
 * the best up projection is the same least-squares fit whatever the row weights
 * ({@link ActivationAwareSvd}).
 */
final class AttentionErrorWeights {
  private AttentionErrorWeights() {}

  /**
   * The row-block roots {@code A_b = G_b^{1/2}} in the row order of {@code [W_k,nope ; W_v]}:
   * n_kv key blocks {@code [d_h − 2r][d_h − 2r]}, then n_kv value blocks {@code [d_h][d_h]}.
   *
   * @param wqNope {@code [n_h·(d_h − 2r)][d]} NoPE query rows, heads in order
   * @param bqNope {@code [1][n_h·(d_h − 2r)]} or null
   * @param wv {@code [n_kv·d_h][d]}
   * @param wo {@code [d][n_h·d_h]}
   * @param moments {@code [d][d]} input second moment S
   * @param mean {@code [d]} input mean
   * @param keyWeight factor on every key block (1: the first-order balance above)
   */
  static double[][][] roots(Backend b, Tensor wqNope, Tensor bqNope, Tensor wv, Tensor wo,
      double[][] moments, double[] mean, int heads, int kvHeads, int headDim, double keyWeight) {
    int nope = wqNope.rows() / heads;
    int group = heads / kvHeads;
    int d = moments.length;
    double[][][] out = new double[2 * kvHeads][][];
    try (Arena tmp = Arena.ofShared()) {
      Tensor s = Dense.toTensor(tmp, DType.F32, moments, false);
      Tensor c = Dense.toTensor(tmp, DType.F32, new InputMoments.Layer(moments, mean).covariance(), false);
      Tensor wqF = Dense.copy(tmp, wqNope, DType.F32);
      Tensor wvF = Dense.copy(tmp, wv, DType.F32);
      Tensor woT = Dense.transpose(tmp, wo); // [n_h·d_h][d]: row block h is W_o^(h)ᵀ
      Tensor qs = Tensor.allocate(tmp, DType.F32, wqF.rows(), d);
      b.linear(wqF, s, qs); // W_q S (S symmetric)
      Tensor vc = Tensor.allocate(tmp, DType.F32, wvF.rows(), d);
      b.linear(wvF, c, vc); // W_v Cov
      double[] qMean = bqNope == null ? null : project(wqF, mean);
      for (int j = 0; j < kvHeads; j++) {
        Tensor wvJ = wvF.rows(j * headDim, headDim);
        double[][] covV = product(b, vc.rows(j * headDim, headDim), wvJ, tmp); // [d_h][d_h]
        double[][] gk = new double[nope][nope];
        double[][] gv = new double[headDim][headDim];
        for (int h = j * group; h < (j + 1) * group; h++) {
          Tensor woH = woT.rows(h * headDim, headDim);
          double[][] oo = product(b, woH, woH, tmp); // W_o^(h)ᵀ W_o^(h)
          double spread = 0; // c_h = tr(W_oᵀW_o Cov_v)
          for (int a = 0; a < headDim; a++) {
            for (int e = 0; e < headDim; e++) {
              spread += oo[a][e] * covV[e][a];
              gv[a][e] += oo[a][e];
            }
          }
          Tensor wqH = wqF.rows(h * nope, nope);
          double[][] qq = product(b, qs.rows(h * nope, nope), wqH, tmp); // E[q qᵀ] without bias
          if (qMean != null) {
            addBiasTerms(qq, qMean, bqNope, h * nope);
          }
          double weight = keyWeight * spread / headDim;
          for (int a = 0; a < nope; a++) {
            for (int e = 0; e < nope; e++) {
              gk[a][e] += weight * qq[a][e];
            }
          }
        }
        out[j] = root(gk);
        out[kvHeads + j] = root(gv);
      }
    }
    return out;
  }

  /** {@code blockdiag(A_b) · m} for row blocks of {@code m} matching {@code roots}. */
  static Tensor apply(Backend b, double[][][] roots, Tensor m, Arena arena) {
    Tensor out = Tensor.allocate(arena, DType.F32, m.rows(), m.cols());
    try (Arena tmp = Arena.ofShared()) {
      int at = 0;
      for (double[][] a : roots) {
        Tensor aT = Dense.toTensor(tmp, DType.F32, a, false);
        // A_b M_b = (A_b)(M_b) with M_b as the [in][out] weight of linearTransposed
        b.linearTransposed(aT, m.rows(at, a.length), out.rows(at, a.length));
        at += a.length;
      }
      if (at != m.rows()) {
        throw new IllegalArgumentException("row weights cover " + at + " rows, the matrix has " + m.rows());
      }
    }
    return out;
  }

  /** {@code x yᵀ} in double, for small results. */
  private static double[][] product(Backend b, Tensor x, Tensor y, Arena tmp) {
    Tensor p = Tensor.allocate(tmp, DType.F32, x.rows(), y.rows());
    b.linear(x, y, p);
    return Dense.symmetrized(Dense.toDouble(p)); // the float GEMM is not exactly symmetric
  }

  private static double[] project(Tensor w, double[] x) {
    double[] y = new double[w.rows()];
    for (int i = 0; i < w.rows(); i++) {
      double acc = 0;
      for (int k = 0; k < x.length; k++) {
        acc += w.get(i, k) * x[k];
      }
      y[i] = acc;
    }
    return y;
  }

  /** E[(Wx + b)(Wx + b)ᵀ] = W S Wᵀ + W μ bᵀ + b μᵀ Wᵀ + b bᵀ. */
  private static void addBiasTerms(double[][] qq, double[] qMean, Tensor bias, int from) {
    int n = qq.length;
    for (int a = 0; a < n; a++) {
      double ba = bias.get(0, from + a);
      for (int e = 0; e < n; e++) {
        double be = bias.get(0, from + e);
        qq[a][e] += qMean[from + a] * be + ba * qMean[from + e] + ba * be;
      }
    }
  }

  /** The symmetric PSD square root; negative rounding-error eigenvalues count as zero. */
  private static double[][] root(double[][] g) {
    SymmetricEigen.Result e = SymmetricEigen.of(g);
    int n = g.length;
    double[][] out = new double[n][n];
    for (int k = 0; k < n; k++) {
      double r = Math.sqrt(Math.max(0, e.values()[k]));
      double[] u = e.vectorsT()[k];
      for (int i = 0; i < n; i++) {
        double ui = u[i] * r;
        for (int j = 0; j < n; j++) {
          out[i][j] += ui * u[j];
        }
      }
    }
    return out;
  }
}
