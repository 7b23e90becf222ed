package dev.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.testing.Seeds;
import java.util.Arrays;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.EigenDecomposition;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Against Commons Math's eigenvalues, plus residuals ‖A v - λ v‖ and orthonormality of V. */
class SymmetricEigenTest {

  @ParameterizedTest(name = "n={0} kind={1}")
  @CsvSource({"1, random", "2, random", "3, random", "17, random", "120, random", "90, gram",
      "64, repeated", "40, diagonal"})
  void matchesCommonsMath(int n, String kind) {
    Seeds.Case c = Seeds.forCase("symmetric eigen " + n + " " + kind);
    double[][] a = new double[n][n];
    switch (kind) {
      case "random" -> {
        for (int i = 0; i < n; i++) {
          for (int j = 0; j <= i; j++) {
            a[i][j] = a[j][i] = c.random().nextGaussian();
          }
        }
      }
      case "gram" -> { // rank n/3, PSD: the shape of the randomized SVD's B Bᵀ
        double[][] b = new double[n][n / 3];
        for (double[] row : b) {
          for (int j = 0; j < row.length; j++) {
            row[j] = c.random().nextGaussian();
          }
        }
        for (int i = 0; i < n; i++) {
          for (int j = 0; j < n; j++) {
            for (int p = 0; p < n / 3; p++) {
              a[i][j] += b[i][p] * b[j][p];
            }
          }
        }
      }
      case "repeated" -> { // eigenvalues 1 and 3, each of multiplicity n/2, in a random basis
        double[][] q = new EigenDecomposition(new Array2DRowRealMatrix(randomSym(c, n))).getV().getData();
        for (int i = 0; i < n; i++) {
          for (int j = 0; j < n; j++) {
            for (int p = 0; p < n; p++) {
              a[i][j] += q[i][p] * (p % 2 == 0 ? 1 : 3) * q[j][p];
            }
          }
        }
      }
      default -> {
        for (int i = 0; i < n; i++) {
          a[i][i] = c.random().nextGaussian();
        }
      }
    }
    for (int i = 0; i < n; i++) { // exactly symmetric: q·D·qᵀ sums round differently per side
      for (int j = 0; j < i; j++) {
        a[i][j] = a[j][i] = 0.5 * (a[i][j] + a[j][i]);
      }
    }
    SymmetricEigen.Result r = SymmetricEigen.of(a);
    // Commons Math's eigen solver fails to converge on the rank-deficient Gram case (and at times
    // on the repeated spectrum); for a PSD matrix the singular values are the eigenvalues, and
    // the repeated case's spectrum is known by construction
    double[] want = switch (kind) {
      case "gram" -> new SingularValueDecomposition(new Array2DRowRealMatrix(a)).getSingularValues().clone();
      case "repeated" -> java.util.stream.IntStream.range(0, n).mapToDouble(p -> p % 2 == 0 ? 1 : 3).toArray();
      default -> new EigenDecomposition(new Array2DRowRealMatrix(a)).getRealEigenvalues().clone();
    };
    Arrays.sort(want);
    double scale = Math.max(1e-300, Math.max(Math.abs(want[0]), Math.abs(want[n - 1])));
    for (int i = 0; i < n; i++) {
      double got = r.values()[i];
      assertTrue(Math.abs(got - want[n - 1 - i]) <= 1e-10 * scale, c + " λ_" + i + " " + got + " vs " + want[n - 1 - i]);
      double[] v = r.vectorsT()[i];
      for (int row = 0; row < n; row++) {
        double s = -got * v[row];
        for (int j = 0; j < n; j++) {
          s += a[row][j] * v[j];
        }
        assertTrue(Math.abs(s) <= 1e-9 * scale, c + " residual of eigenvector " + i + ": " + s);
      }
      for (int j = 0; j <= i; j++) {
        double dot = 0;
        for (int p = 0; p < n; p++) {
          dot += v[p] * r.vectorsT()[j][p];
        }
        assertTrue(Math.abs(dot - (i == j ? 1 : 0)) <= 1e-9, c + " vᵀv " + i + "," + j + " = " + dot);
      }
    }
  }

  private static double[][] randomSym(Seeds.Case c, int n) {
    double[][] a = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j <= i; j++) {
        a[i][j] = a[j][i] = c.random().nextGaussian();
      }
    }
    return a;
  }
}
