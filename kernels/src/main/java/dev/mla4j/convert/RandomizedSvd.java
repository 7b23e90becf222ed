package dev.mla4j.convert;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Randomized truncated SVD (Halko, Martinsson and Tropp's subspace iteration) whose large
 * products all run as GEMMs on a {@link Backend}. For {@code M [m][n]} and rank k, with
 * {@code l = k + oversample}:
 * <ol>
 *   <li>sketch {@code Y = M Ωᵀ} with a Gaussian {@code Ω [l][n]}; orthonormalize → Q;</li>
 *   <li>q power iterations {@code P = orth(Qᵀ M)}, {@code Q = orth(M Pᵀ)}, which sharpen the
 *       basis by the factor (σ_{l+1}/σ_k)^{2q} on slowly decaying spectra;</li>
 *   <li>{@code B = Qᵀ M [l][n]}; the eigenvectors V of the small {@code B Bᵀ [l][l]}
 *       ({@link SymmetricEigen}, double) give {@code U = Q V_k}, and the rows of {@code V_kᵀ B}
 *       are σ_i·v_iᵀ, so σ_i is their norm (more accurate than the square root of an eigenvalue
 *       of a float Gram matrix).</li>
 * </ol>
 * Panels are stored as rows ({@code [l][m]}, {@code [l][n]}) and M is also kept transposed, so
 * every large product is a {@link Backend#linear} GEMM against M or Mᵀ (the backend's transposed
 * product streams the whole weight per four rows and ran 3-4x slower here), and orthonormalization
 * is {@link RowBasis}. The product {@code U diag(σ) Vᵀ = Q V_k V_kᵀ B} does not
 * depend on the accuracy of σ, only on that of the subspace.
 */
public final class RandomizedSvd {

  /**
   * @param oversample extra sketch columns beyond k (10 is the usual choice)
   * @param powerIterations q; 2 brings the error within a few percent of the optimum on
   *     weight-like spectra
   * @param seed of the Gaussian sketch
   */
  public record Options(int oversample, int powerIterations, long seed) {
    public static final Options DEFAULT = new Options(10, 2, 0x6d6c61346aL);

    public Options {
      if (oversample < 0 || powerIterations < 0) {
        throw new IllegalArgumentException("oversample and powerIterations must be >= 0, got "
            + oversample + ", " + powerIterations);
      }
    }
  }

  private RandomizedSvd() {}

  /**
   * Rank-k SVD of {@code m}; the result lives in {@code arena}, temporaries in a private arena.
   *
   * @param m {@code [m][n]}, F32, BF16 or F16
   */
  public static Svd compute(Backend b, Tensor m, int k, Options o, Arena arena) {
    int rows = m.rows();
    int cols = m.cols();
    int small = Math.min(rows, cols);
    if (k < 1 || k > small) {
      throw new IllegalArgumentException("rank " + k + " outside [1, " + small + "] for " + m.shape());
    }
    int l = Math.min(k + o.oversample(), small);
    try (Arena tmp = Arena.ofShared()) {
      RowBasis basis = new RowBasis(b, tmp, l, Math.max(rows, cols));
      // F32 once: the GEMM widens its weight operand again for every tile of 16 panel rows, and
      // BF16 widening took a third of the profile; Mᵀ once, so that Qᵀ M is a plain GEMM too (the
      // transposed GEMM streams M per four rows)
      Tensor mf = m.dtype() == DType.F32 ? m : Dense.copy(tmp, m, DType.F32);
      Tensor mt = Dense.transpose(tmp, mf);
      // A sketch as wide as min(m, n) has no room to oversample: the whole range is wanted, and a
      // square Gaussian sketch only adds its own conditioning (a random square matrix is now and
      // then nearly singular, and then RowBasis zeroes a row it takes for dependent: 10% error
      // at full rank, LowRankTest seed 47634060651417). The basis is then taken directly: the
      // identity when range(M) is all of R^m, else M's own columns.
      boolean full = l == small;
      boolean allOfRm = full && rows == small;
      // rows: orthonormal basis of range(M)
      Tensor q = allOfRm ? identity(tmp, l) : Tensor.allocate(tmp, DType.F32, l, rows);
      Tensor p = Tensor.allocate(tmp, DType.F32, l, cols); // rows: basis of range(Mᵀ), then B
      if (!allOfRm) {
        b.linear(full ? identity(tmp, l) : gaussian(tmp, l, cols, o.seed()), mf, q);
        basis.orthonormalize(q, full || o.powerIterations() == 0 ? 2 : 1);
      }
      for (int it = 0; !full && it < o.powerIterations(); it++) {
        b.linear(q, mt, p);
        basis.orthonormalize(p, 1);
        b.linear(p, mf, q);
        basis.orthonormalize(q, it == o.powerIterations() - 1 ? 2 : 1);
      }
      b.linear(q, mt, p); // B = Qᵀ M, as rows
      return smallSvd(b, q, p, k, tmp, arena);
    }
  }

  /** U, σ, Vᵀ from the basis {@code q [l][m]} and {@code bt = Qᵀ M [l][n]}. */
  private static Svd smallSvd(Backend b, Tensor q, Tensor bt, int k, Arena tmp, Arena arena) {
    int l = q.rows();
    Tensor g = Tensor.allocate(tmp, DType.F32, l, l);
    b.linear(bt, bt, g);
    SymmetricEigen.Result eig = SymmetricEigen.of(Dense.toDouble(g));
    Tensor vkT = Tensor.allocate(tmp, DType.F32, k, l);
    for (int c = 0; c < k; c++) {
      double[] v = eig.vectorsT()[c];
      for (int j = 0; j < l; j++) {
        vkT.set(c, j, (float) v[j]);
      }
    }
    // U = Qᵀ V_k and V_kᵀ B as plain GEMMs against the transposed panels
    Tensor u = Tensor.allocate(arena, DType.F32, q.cols(), k);
    b.linear(Dense.transpose(tmp, q), vkT, u);
    Tensor vtRaw = Tensor.allocate(tmp, DType.F32, bt.cols(), k);
    b.linear(Dense.transpose(tmp, bt), vkT, vtRaw);
    Tensor vt = Dense.transpose(arena, vtRaw);
    double[] sigma = new double[k];
    double[] inv = new double[k];
    for (int c = 0; c < k; c++) {
      double s = 0;
      for (int j = 0; j < vt.cols(); j++) {
        double x = vt.get(c, j);
        s += x * x;
      }
      sigma[c] = Math.sqrt(s);
      inv[c] = sigma[c] > 0 ? 1 / sigma[c] : 0;
    }
    Dense.scaleRows(vt, inv);
    // eigenvalue order and norm order can disagree where float rounding ties them
    return sorted(new Svd(u, sigma, vt), arena);
  }

  private static Svd sorted(Svd s, Arena arena) {
    int k = s.rank();
    Integer[] order = new Integer[k];
    Arrays.setAll(order, i -> i);
    Arrays.sort(order, (x, y) -> Double.compare(s.sigma()[y], s.sigma()[x]));
    boolean identity = true;
    for (int i = 0; i < k; i++) {
      identity &= order[i] == i;
    }
    if (identity) {
      return s;
    }
    Tensor u = Tensor.allocate(arena, DType.F32, s.u().rows(), k);
    Tensor vt = Tensor.allocate(arena, DType.F32, k, s.vt().cols());
    double[] sigma = new double[k];
    for (int c = 0; c < k; c++) {
      int from = order[c];
      sigma[c] = s.sigma()[from];
      Dense.copyInto(s.vt().row(from), vt.row(c));
      for (int i = 0; i < u.rows(); i++) {
        u.set(i, c, s.u().get(i, from));
      }
    }
    return new Svd(u, sigma, vt);
  }

  private static Tensor identity(Arena arena, int n) {
    Tensor t = Tensor.allocate(arena, DType.F32, n, n);
    for (int i = 0; i < n; i++) {
      t.set(i, i, 1f);
    }
    return t;
  }

  private static Tensor gaussian(Arena arena, int rows, int cols, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    Tensor t = Tensor.allocate(arena, DType.F32, rows, cols);
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        t.set(i, j, (float) random.nextGaussian());
      }
    }
    return t;
  }
}
