package dev.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.testing.Seeds;
import org.junit.jupiter.api.Test;

class PairSelectionTest {

  @Test
  void fixedStrategiesOnHandCheckedSets() {
    // d_h = 16: F = 8 pairs, r = 2
    assertArrayEquals(new int[] {0, 1}, PairSelection.high(2, 3, 8, 2)[1][2]);
    assertArrayEquals(new int[] {6, 7}, PairSelection.low(2, 3, 8, 2)[1][2]);
    // step d_h/(2r) = 4: dims 0,4,8,12 = pairs 0 and 4 (dims 8, 12 are their partners)
    assertArrayEquals(new int[] {0, 4}, PairSelection.uniform(2, 3, 8, 2, 0)[0][0]);
    assertArrayEquals(new int[] {1, 5}, PairSelection.uniform(1, 1, 8, 2, 1)[0][0]);
    // Llama-2-7B: F = 64, r = 8 -> every 8th pair (paper's ⌊k·d_h/(2r)⌋)
    assertArrayEquals(new int[] {0, 8, 16, 24, 32, 40, 48, 56},
        PairSelection.uniform(1, 1, 64, 8, 0)[0][0]);
    assertThrows(IllegalArgumentException.class, () -> PairSelection.uniform(1, 1, 8, 3, 0));
    assertThrows(IllegalArgumentException.class, () -> PairSelection.uniform(1, 1, 8, 2, 4));
    assertThrows(IllegalArgumentException.class, () -> PairSelection.high(1, 1, 8, 9));
  }

  @Test
  void twoNormProductIsTopRPerKvHeadSummedOverItsGroup() {
    Seeds.Case c = Seeds.forCase("2-norm product");
    int layers = 3;
    int heads = 6;
    int kvHeads = 2;
    int pairs = 16;
    int r = 4;
    double[][][] q = random(c, layers, heads, pairs);
    double[][][] k = random(c, layers, kvHeads, pairs);
    for (boolean sum : new boolean[] {false, true}) {
      int[][][] got = PairSelection.twoNorm(q, k, r, sum);
      for (int l = 0; l < layers; l++) {
        for (int j = 0; j < kvHeads; j++) {
          double[] score = new double[pairs];
          for (int h = 3 * j; h < 3 * j + 3; h++) {
            for (int i = 0; i < pairs; i++) {
              score[i] += sum ? q[l][h][i] + k[l][j][i] : q[l][h][i] * k[l][j][i];
            }
          }
          assertTopR(score, r, got[l][j], c + " sum=" + sum);
        }
      }
    }
  }

  @Test
  void gqaSumsTheGroupInsteadOfFollowingOneHead() {
    // one kv head, two query heads: head 0 alone prefers pair 0, head 1 strongly prefers pair 2;
    // the group sum picks pair 2 (a per-head or first-head rule would pick pair 0)
    double[][][] q = {{{1.0, 0.1, 0.0, 0.2}, {0.0, 0.1, 5.0, 0.2}}};
    double[][][] k = {{{1.0, 1.0, 1.0, 1.0}}};
    assertArrayEquals(new int[] {2}, PairSelection.twoNorm(q, k, 1, false)[0][0]);
    assertArrayEquals(new int[] {0, 2}, PairSelection.twoNorm(q, k, 2, false)[0][0]);
    // product vs sum disagree when the key norm is small where the query norm is large
    double[][][] q2 = {{{3.0, 1.0}}};
    double[][][] k2 = {{{0.1, 1.0}}};
    assertArrayEquals(new int[] {1}, PairSelection.twoNorm(q2, k2, 1, false)[0][0]);
    assertArrayEquals(new int[] {0}, PairSelection.twoNorm(q2, k2, 1, true)[0][0]);
  }

  /** got is ascending, of size r, and no unchosen pair scores above a chosen one. */
  private static void assertTopR(double[] score, int r, int[] got, String what) {
    assertTrue(got.length == r, what);
    double minChosen = Double.POSITIVE_INFINITY;
    boolean[] chosen = new boolean[score.length];
    for (int m = 0; m < r; m++) {
      if (m > 0) {
        assertTrue(got[m] > got[m - 1], what + ": not ascending");
      }
      chosen[got[m]] = true;
      minChosen = Math.min(minChosen, score[got[m]]);
    }
    for (int i = 0; i < score.length; i++) {
      if (!chosen[i]) {
        assertTrue(score[i] <= minChosen, what + ": pair " + i + " scores " + score[i]
            + " above a chosen pair's " + minChosen);
      }
    }
  }

  private static double[][][] random(Seeds.Case c, int a, int b, int n) {
    double[][][] out = new double[a][b][n];
    for (double[][] x : out) {
      for (double[] y : x) {
        for (int i = 0; i < n; i++) {
          y[i] = Math.abs(c.random().nextGaussian());
        }
      }
    }
    return out;
  }
}
