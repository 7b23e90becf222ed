package dev.mla4j.convert;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;

/**
 * Orthonormalizes the rows of a {@code [k][N]} panel (k <= N) in place by Cholesky QR run twice
 * (CholeskyQR2): {@code G = A Aᵀ = L Lᵀ}, {@code A ← L⁻¹ A}. Both products are GEMMs on the
 * backend, the {@code [k][k]} Cholesky factor and its inverse are computed in double here; this
 * replaces k² N scalar Gram-Schmidt steps by two GEMMs per pass.
 *
 * <p>A row whose component orthogonal to the rows before it has less than {@link #DEPENDENT} of
 * its squared norm is treated as dependent and set to zero, so an exactly rank-deficient panel
 * (a sketch of a low-rank matrix) mostly yields zero rows instead of amplified rounding noise. The
 * float Gram matrix's own rounding (about ε·sqrt(N) relative) is of the same order for N in the
 * thousands, so a dependent row can escape the test; it then leaves the second pass as a unit
 * vector orthogonal to the others, which only adds a harmless direction to the basis. One pass
 * loses orthogonality in proportion to cond(A)²·ε; the second starts from a nearly orthonormal
 * panel and restores it to float precision.
 */
final class RowBasis {
  /** Relative squared residual below which a row counts as linearly dependent. */
  static final double DEPENDENT = 1e-6;
  private static final int PASSES = 2;

  private final Backend backend;
  private final Tensor gram;
  private final Tensor inverse;
  private final Tensor transposed;
  private final Tensor scratch;

  /** Scratch for panels of up to {@code k} rows of length {@code n}. */
  RowBasis(Backend backend, Arena arena, int k, int n) {
    this.backend = backend;
    this.gram = Tensor.allocate(arena, DType.F32, k, k);
    this.inverse = Tensor.allocate(arena, DType.F32, k, k);
    this.transposed = Tensor.allocate(arena, DType.F32, n, k);
    this.scratch = Tensor.allocate(arena, DType.F32, n, k);
  }

  /** Orthonormalizes (or zeroes, when dependent) the rows of {@code a}, a dense F32 panel. */
  void orthonormalize(Tensor a) {
    orthonormalize(a, PASSES);
  }

  /**
   * With {@code passes = 1} the rows span the same space and are orthonormal up to about
   * cond(A)²·ε: enough between power iterations, which only need a well-conditioned basis.
   */
  void orthonormalize(Tensor a, int passes) {
    int k = a.rows();
    int n = a.cols();
    Tensor g = gram.rows(0, k).cols(0, k);
    Tensor inv = inverse.rows(0, k).cols(0, k);
    Tensor at = Tensor.of(transposed.data(), DType.F32, n, k);
    Tensor out = Tensor.of(scratch.data(), DType.F32, n, k);
    for (int pass = 0; pass < passes; pass++) {
      backend.linear(a, a, g);
      double[][] lInv = choleskyInverse(Dense.toDouble(g));
      for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++) {
          inv.set(i, j, (float) lInv[i][j]);
        }
      }
      // (L⁻¹ A)ᵀ = Aᵀ L⁻ᵀ, a plain GEMM on the transposed panel
      Dense.transposeInto(a, at);
      backend.linear(at, inv, out);
      Dense.transposeInto(out, a);
    }
  }

  /**
   * L⁻¹ for the lower Cholesky factor L of {@code g}, with the rows and columns of dependent
   * rows set to zero (as if those rows were removed from the panel).
   */
  static double[][] choleskyInverse(double[][] g) {
    int k = g.length;
    double[][] l = new double[k][k];
    boolean[] dead = new boolean[k];
    for (int j = 0; j < k; j++) {
      double s = g[j][j];
      double[] lj = l[j];
      for (int p = 0; p < j; p++) {
        s -= lj[p] * lj[p];
      }
      if (!(g[j][j] > 0) || s <= DEPENDENT * g[j][j]) {
        dead[j] = true;
        java.util.Arrays.fill(lj, 0);
        continue;
      }
      double d = Math.sqrt(s);
      lj[j] = d;
      for (int i = j + 1; i < k; i++) {
        double[] li = l[i];
        double t = g[i][j];
        for (int p = 0; p < j; p++) {
          t -= li[p] * lj[p];
        }
        li[j] = t / d;
      }
    }
    // forward substitution L x_c = e_c per column c, kept as rows of xt = (L⁻¹)ᵀ so the inner
    // loop is a contiguous dot product
    double[][] xt = new double[k][k];
    for (int c = 0; c < k; c++) {
      if (dead[c]) {
        continue;
      }
      double[] xc = xt[c];
      xc[c] = 1 / l[c][c];
      for (int i = c + 1; i < k; i++) {
        if (dead[i]) {
          continue;
        }
        double[] li = l[i];
        double t = 0;
        for (int p = c; p < i; p++) {
          t += li[p] * xc[p];
        }
        xc[i] = -t / li[i];
      }
    }
    double[][] x = new double[k][k];
    for (int i = 0; i < k; i++) {
      for (int c = 0; c <= i; c++) {
        x[i][c] = xt[c][i];
      }
    }
    return x;
  }
}
