package dev.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.model.AttentionWeights;
import dev.mla4j.model.MlaAttentionWeights;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.EigenDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The attention-weighted activation-aware SVD_joint reaches the optimum of its objective, which
 * this test writes out on its own in double precision (Commons Math for the factorizations):
 * per kv head j, {@code tr(ΔK_j C ΔK_jᵀ G_k) + tr(ΔV_j C ΔV_jᵀ G_v)} with C the input covariance,
 * {@code G_v = Σ_h W_o^(h)ᵀ W_o^(h)} and {@code G_k = Σ_h (tr(G_v^(h) W_v,j C W_v,jᵀ) / d_h) E[q_h qᵀ_h]}
 * over the NoPE query rows, and checks that the mean input reaches the values without error.
 */
class AttentionObjectiveTest {
  private static final int D = 40;
  private static final int HEADS = 4;
  private static final int KV = 2;
  private static final int HEAD_DIM = 16;
  private static final int[][] KEPT = {{0, 3}, {2, 5}};
  private static final int TOKENS = 400;

  @ParameterizedTest(name = "d_kv={0}")
  @CsvSource({"3", "8"})
  void attentionObjectiveIsOptimalAndBeatsTheOthersOnIt(int dKv) {
    Seeds.Case c = Seeds.forCase("attention objective " + dKv);
    try (Arena arena = Arena.ofShared(); Backend b = Backends.create(2)) {
      AttentionWeights w = LowRankTest.randomLayer(arena, c, D, HEADS, KV, HEAD_DIM);
      double[][] x = inputs(c);
      Tensor tx = LowRankTest.tensor(arena, x);
      InputMoments moments = new InputMoments(b, 1, D);
      moments.onAttentionInput(0, tx.rows(0, 150));
      moments.onAttentionInput(0, tx.rows(150, TOKENS - 150));
      Oracle oracle = new Oracle(w, x);
      MlaConverter.Options aware = MlaConverter.Options.joint(dKv).withActivationAware(true);
      MlaAttentionWeights att = MlaConverter.convertLayer(b, HEADS, KV, HEAD_DIM, w, KEPT,
          aware, moments.layer(0), arena);
      MlaAttentionWeights kv = MlaConverter.convertLayer(b, HEADS, KV, HEAD_DIM, w, KEPT,
          aware.withAware(ActivationAwareOptions.DEFAULT.withObjective(AwareObjective.KV)), moments.layer(0), arena);
      MlaAttentionWeights plain = MlaConverter.convertLayer(b, HEADS, KV, HEAD_DIM, w, KEPT,
          MlaConverter.Options.joint(dKv), null, arena);
      double optimum = oracle.optimum(KV * dKv);
      double got = oracle.objective(att);
      assertTrue(got <= optimum * (1 + 1e-3) + 1e-9, c + " attention objective " + got + " vs optimum " + optimum);
      assertTrue(got < oracle.objective(kv), c + " kv objective does better on the attention error");
      assertTrue(got < oracle.objective(plain), c + " weight-only does better on the attention error");
      double meanErr = oracle.valueErrorAtMean(att);
      assertTrue(meanErr <= 1e-4 * oracle.valueNormAtMean(), c + " value error at the mean input " + meanErr);
    }
  }

  /** Anisotropic, correlated inputs with a mean far from zero (as after an RMSNorm with gains). */
  private static double[][] inputs(Seeds.Case c) {
    double[][] z = LowRankTest.gaussian(c, TOKENS, D);
    double[][] mix = LowRankTest.gaussian(c, D, D);
    double[][] x = LowRankTest.multiply(z, mix);
    double[] offset = LowRankTest.gaussian(c, 1, D)[0];
    for (double[] row : x) {
      for (int i = 0; i < D; i++) {
        row[i] = (float) (row[i] * Math.pow(20, -(double) i / D) + 3 * offset[i]);
      }
    }
    return x;
  }

  /** The objective in double, written independently of AttentionErrorWeights. */
  private static final class Oracle {
    final double[][] wq;
    final double[][] wk;
    final double[][] wv;
    final double[][] wo;
    final double[] mean = new double[D];
    final double[][] second = new double[D][D];
    final double[][] cov = new double[D][D];
    final List<int[]> nope = new ArrayList<>(); // per kv head: its NoPE dims, ascending
    final double[][][] gk = new double[KV][][];
    final double[][][] gv = new double[KV][][];

    Oracle(AttentionWeights w, double[][] x) {
      wq = Dense.toDouble(w.wq());
      wk = Dense.toDouble(w.wk());
      wv = Dense.toDouble(w.wv());
      wo = Dense.toDouble(w.wo());
      for (double[] t : x) {
        for (int i = 0; i < D; i++) {
          mean[i] += t[i] / x.length;
          for (int k = 0; k < D; k++) {
            second[i][k] += t[i] * t[k] / x.length;
          }
        }
      }
      for (int i = 0; i < D; i++) {
        for (int k = 0; k < D; k++) {
          cov[i][k] = second[i][k] - mean[i] * mean[k];
        }
      }
      for (int j = 0; j < KV; j++) {
        List<Integer> dims = new ArrayList<>();
        for (int i = 0; i < HEAD_DIM; i++) {
          boolean kept = false;
          for (int p : KEPT[j]) {
            kept |= i == p || i == p + HEAD_DIM / 2;
          }
          if (!kept) {
            dims.add(i);
          }
        }
        nope.add(dims.stream().mapToInt(Integer::intValue).toArray());
      }
      int group = HEADS / KV;
      for (int j = 0; j < KV; j++) {
        int[] dims = nope.get(j);
        gk[j] = new double[dims.length][dims.length];
        gv[j] = new double[HEAD_DIM][HEAD_DIM];
        double[][] vRows = rows(wv, j * HEAD_DIM, HEAD_DIM);
        double[][] covV = sandwich(vRows, cov);
        for (int h = j * group; h < (j + 1) * group; h++) {
          double[][] g = new double[HEAD_DIM][HEAD_DIM];
          for (int a = 0; a < HEAD_DIM; a++) {
            for (int e = 0; e < HEAD_DIM; e++) {
              for (int o = 0; o < D; o++) {
                g[a][e] += wo[o][h * HEAD_DIM + a] * wo[o][h * HEAD_DIM + e];
              }
            }
          }
          double spread = 0;
          for (int a = 0; a < HEAD_DIM; a++) {
            for (int e = 0; e < HEAD_DIM; e++) {
              spread += g[a][e] * covV[e][a];
              gv[j][a][e] += g[a][e];
            }
          }
          double[][] qRows = new double[dims.length][];
          for (int m = 0; m < dims.length; m++) {
            qRows[m] = wq[h * HEAD_DIM + dims[m]];
          }
          double[][] qq = sandwich(qRows, second);
          for (int a = 0; a < dims.length; a++) {
            for (int e = 0; e < dims.length; e++) {
              gk[j][a][e] += spread / HEAD_DIM * qq[a][e];
            }
          }
        }
      }
    }

    double objective(MlaAttentionWeights m) {
      double[][] down = Dense.toDouble(m.wDkv());
      double[][] uk = Dense.toDouble(m.wUk());
      double[][] uv = Dense.toDouble(m.wUv());
      double total = 0;
      int nopeDims = nope.get(0).length;
      for (int j = 0; j < KV; j++) {
        double[][] dk = new double[nopeDims][];
        for (int a = 0; a < nopeDims; a++) {
          dk[a] = difference(wk[j * HEAD_DIM + nope.get(j)[a]], uk[j * nopeDims + a], down);
        }
        double[][] dv = new double[HEAD_DIM][];
        for (int a = 0; a < HEAD_DIM; a++) {
          dv[a] = difference(wv[j * HEAD_DIM + a], uv[j * HEAD_DIM + a], down);
        }
        total += trace(gk[j], sandwich(dk, cov)) + trace(gv[j], sandwich(dv, cov));
      }
      return total;
    }

    /** Smallest objective with a rank-k shared latent: tail of the SVD of blockdiag(√G)·W·√C. */
    double optimum(int k) {
      List<double[]> weighted = new ArrayList<>();
      for (int j = 0; j < KV; j++) {
        double[][] block = new double[nope.get(j).length][];
        for (int a = 0; a < block.length; a++) {
          block[a] = wk[j * HEAD_DIM + nope.get(j)[a]];
        }
        weighted.addAll(List.of(multiply(sqrt(gk[j]), block)));
      }
      for (int j = 0; j < KV; j++) {
        weighted.addAll(List.of(multiply(sqrt(gv[j]), rows(wv, j * HEAD_DIM, HEAD_DIM))));
      }
      // any F with F·Fᵀ = C gives the same singular values of A·F; the symmetric square root,
      // unlike Cholesky, takes a C whose smallest eigenvalue the mean's cancellation left at ~0
      double[] s = LowRankTest.singularValues(
          multiply(weighted.toArray(new double[0][]), sqrt(cov)));
      double tail = 0;
      for (int i = k; i < s.length; i++) {
        tail += s[i] * s[i];
      }
      return tail;
    }

    /** ‖W_v μ − (W_uv W_dkv μ + b_uv)‖. */
    double valueErrorAtMean(MlaAttentionWeights m) {
      double[][] down = Dense.toDouble(m.wDkv());
      double[][] uv = Dense.toDouble(m.wUv());
      double sum = 0;
      for (int o = 0; o < wv.length; o++) {
        double e = dot(difference(wv[o], uv[o], down), mean) - (m.bUv() == null ? 0 : m.bUv().get(0, o));
        sum += e * e;
      }
      return Math.sqrt(sum);
    }

    double valueNormAtMean() {
      double sum = 0;
      for (double[] row : wv) {
        sum += dot(row, mean) * dot(row, mean);
      }
      return Math.sqrt(sum);
    }

    /** Row {@code w − up·down}. */
    private static double[] difference(double[] w, double[] up, double[][] down) {
      double[] out = w.clone();
      for (int c = 0; c < up.length; c++) {
        for (int i = 0; i < out.length; i++) {
          out[i] -= up[c] * down[c][i];
        }
      }
      return out;
    }

    private static double[][] rows(double[][] a, int from, int n) {
      double[][] out = new double[n][];
      System.arraycopy(a, from, out, 0, n);
      return out;
    }

    /** {@code A S Aᵀ}. */
    private static double[][] sandwich(double[][] a, double[][] s) {
      double[][] as = multiply(a, s);
      double[][] out = new double[a.length][a.length];
      for (int i = 0; i < a.length; i++) {
        for (int k = 0; k < a.length; k++) {
          out[i][k] = dot(as[i], a[k]);
        }
      }
      return out;
    }

    private static double trace(double[][] a, double[][] b) {
      double t = 0;
      for (int i = 0; i < a.length; i++) {
        for (int k = 0; k < a.length; k++) {
          t += a[i][k] * b[k][i];
        }
      }
      return t;
    }

    private static double[][] sqrt(double[][] g) {
      EigenDecomposition e = new EigenDecomposition(new Array2DRowRealMatrix(g));
      RealMatrix v = e.getV();
      double[] l = e.getRealEigenvalues();
      double[][] out = new double[g.length][g.length];
      for (int p = 0; p < l.length; p++) {
        double r = Math.sqrt(Math.max(0, l[p]));
        for (int i = 0; i < g.length; i++) {
          for (int k = 0; k < g.length; k++) {
            out[i][k] += v.getEntry(i, p) * r * v.getEntry(k, p);
          }
        }
      }
      return out;
    }

    private static double[][] multiply(double[][] a, double[][] b) {
      return LowRankTest.multiply(a, b);
    }

    private static double dot(double[] a, double[] b) {
      double s = 0;
      for (int i = 0; i < a.length; i++) {
        s += a[i] * b[i];
      }
      return s;
    }
  }
}
