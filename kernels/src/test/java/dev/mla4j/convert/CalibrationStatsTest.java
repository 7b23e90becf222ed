package dev.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.model.AttentionWeights;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/** The calibration listeners against brute-force sums in double. */
class CalibrationStatsTest {

  @Test
  void pairNormsAreMeansOverTokensThenSequences() {
    Seeds.Case c = Seeds.forCase("pair norm stats");
    int d = 24;
    int heads = 4;
    int kvHeads = 2;
    int headDim = 8;
    int pairs = headDim / 2;
    try (Arena arena = Arena.ofShared(); Backend b = Backends.create(2)) {
      Tensor wq = Inputs.gaussian(arena, c, DType.BF16, heads * headDim, d, 0.3);
      Tensor bq = Inputs.gaussian(arena, c, DType.F32, 1, heads * headDim, 0.5);
      Tensor wk = Inputs.gaussian(arena, c, DType.F32, kvHeads * headDim, d, 0.3);
      AttentionWeights w = new AttentionWeights(wq, bq, wk, null, wk, null, null);
      PairNormStats stats = new PairNormStats(b, 2, heads, kvHeads, headDim, l -> w);
      // two sequences of different lengths on layer 1: the mean is over sequences, not tokens
      Tensor x1 = Inputs.gaussian(arena, c, DType.F32, 3, d, 1);
      Tensor x2 = Inputs.gaussian(arena, c, DType.F32, 11, d, 1);
      stats.onAttentionInput(1, x1);
      stats.onAttentionInput(1, x2);
      stats.onAttentionInput(0, x2);
      double[][] q1 = seqMean(x1, wq, bq, heads, headDim);
      double[][] q2 = seqMean(x2, wq, bq, heads, headDim);
      double[][] k1 = seqMean(x1, wk, null, kvHeads, headDim);
      double[][] k2 = seqMean(x2, wk, null, kvHeads, headDim);
      double[][][] gotQ = stats.queryNorms();
      double[][][] gotK = stats.keyNorms();
      for (int h = 0; h < heads; h++) {
        for (int i = 0; i < pairs; i++) {
          assertEquals((q1[h][i] + q2[h][i]) / 2, gotQ[1][h][i], 1e-4 * (1 + q2[h][i]), c.toString());
          assertEquals(q2[h][i], gotQ[0][h][i], 1e-4 * (1 + q2[h][i]), c.toString());
        }
      }
      for (int j = 0; j < kvHeads; j++) {
        for (int i = 0; i < pairs; i++) {
          assertEquals((k1[j][i] + k2[j][i]) / 2, gotK[1][j][i], 1e-4 * (1 + k2[j][i]), c.toString());
        }
      }
    }
  }

  @Test
  void inputMomentsAreTheSecondMomentOverAllTokens() {
    Seeds.Case c = Seeds.forCase("input moments");
    int d = 20;
    try (Arena arena = Arena.ofShared(); Backend b = Backends.create(2)) {
      InputMoments moments = new InputMoments(b, 1, d);
      Tensor x1 = Inputs.gaussian(arena, c, DType.F32, 5, d, 1);
      Tensor x2 = Inputs.gaussian(arena, c, DType.F32, 9, d, 2);
      moments.onAttentionInput(0, x1);
      moments.onAttentionInput(0, x2);
      double[][] got = moments.moments(0);
      for (int i = 0; i < d; i++) {
        for (int j = 0; j < d; j++) {
          double s = 0;
          for (Tensor x : new Tensor[] {x1, x2}) {
            for (int t = 0; t < x.rows(); t++) {
              s += (double) x.get(t, i) * x.get(t, j);
            }
          }
          assertEquals(s / 14, got[i][j], 1e-5 * (1 + Math.abs(s)), c.toString());
        }
      }
      assertEquals(14, moments.tokens(0));
    }
  }

  /** Per head and pair, the token mean of sqrt(v_i² + v_{i+F}²) for v = W x + b, in double. */
  private static double[][] seqMean(Tensor x, Tensor w, Tensor bias, int heads, int headDim) {
    int pairs = headDim / 2;
    double[][] out = new double[heads][pairs];
    for (int t = 0; t < x.rows(); t++) {
      double[] v = new double[w.rows()];
      for (int o = 0; o < w.rows(); o++) {
        double s = bias == null ? 0 : bias.get(0, o);
        for (int i = 0; i < w.cols(); i++) {
          s += (double) x.get(t, i) * w.get(o, i);
        }
        v[o] = s;
      }
      for (int h = 0; h < heads; h++) {
        for (int i = 0; i < pairs; i++) {
          double a = v[h * headDim + i];
          double b = v[h * headDim + i + pairs];
          out[h][i] += Math.sqrt(a * a + b * b) / x.rows();
        }
      }
    }
    return out;
  }
}
