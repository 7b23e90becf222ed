package dev.mla4j.convert;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;

/**
 * A rank-k factorization {@code M ≈ U diag(σ) Vᵀ} of an {@code [m][n]} matrix, σ descending.
 * From an exact or randomized SVD U has orthonormal columns and Vᵀ orthonormal rows; the
 * activation-aware factorization (spec 9.2) puts a non-orthogonal map in {@code vt}.
 *
 * @param u {@code [m][k]} F32
 * @param sigma {@code [k]} descending, >= 0
 * @param vt {@code [k][n]} F32
 */
public record Svd(Tensor u, double[] sigma, Tensor vt) {

  public Svd {
    if (u.cols() != sigma.length || vt.rows() != sigma.length) {
      throw new IllegalArgumentException("SVD factors disagree on the rank: U " + u.shape()
          + ", " + sigma.length + " singular values, Vᵀ " + vt.shape());
    }
  }

  public int rank() {
    return sigma.length;
  }

  /**
   * The exact truncated SVD by Commons Math in double. Meant for small matrices (the cost is
   * O(m·n·min(m, n)) in plain Java); large ones go through {@link RandomizedSvd}.
   *
   * @param m {@code [m][n]}, any dtype
   * @param k rank kept, at most min(m, n)
   */
  public static Svd exact(Tensor m, int k, Arena arena) {
    return exact(Dense.toDouble(m), k, arena);
  }

  /** As {@link #exact(Tensor, int, Arena)} on a row-major double matrix. */
  public static Svd exact(double[][] m, int k, Arena arena) {
    int rows = m.length;
    int cols = m[0].length;
    if (k < 0 || k > Math.min(rows, cols)) {
      throw new IllegalArgumentException(
          "rank " + k + " outside [0, " + Math.min(rows, cols) + "] for a [" + rows + "][" + cols + "] matrix");
    }
    SingularValueDecomposition svd = new SingularValueDecomposition(new Array2DRowRealMatrix(m, false));
    double[] s = svd.getSingularValues();
    double[][] u = svd.getU().getData();
    double[][] vt = svd.getVT().getData();
    Tensor tu = Tensor.allocate(arena, DType.F32, rows, k);
    Tensor tvt = Tensor.allocate(arena, DType.F32, k, cols);
    double[] sigma = new double[k];
    for (int c = 0; c < k; c++) {
      sigma[c] = s[c];
      for (int i = 0; i < rows; i++) {
        tu.set(i, c, (float) u[i][c]);
      }
      for (int j = 0; j < cols; j++) {
        tvt.set(c, j, (float) vt[c][j]);
      }
    }
    return new Svd(tu, sigma, tvt);
  }
}
