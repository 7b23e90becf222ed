package dev.mla4j.convert;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;

/**
 * Activation-aware low rank (spec 9.2): the rank-k map {@code A} minimising
 * {@code E‖(W − A)x‖² = tr((W − A) S (W − A)ᵀ)} over calibration inputs with second moment
 * {@code S = E[x xᵀ]}. With {@code S = U diag(λ) Uᵀ}, {@code ‖(W − A) U diag(√λ)‖_F} is minimised by
 * the truncated SVD {@code P diag(σ) Qᵀ} of {@code D = W U diag(√λ)}, and
 * {@code A = P diag(σ) Qᵀ diag(1/√λ) Uᵀ}. The result is returned as an {@link Svd} whose
 * {@code vt} is {@code Qᵀ diag(1/√λ) Uᵀ} (not orthonormal), so {@link SigmaPlacement} splits it
 * like a plain SVD.
 *
 * <p>Damping: eigenvalues below {@code floor · max λ} are raised to it. Directions the calibration
 * data never excites would otherwise get weights 1/√λ → ∞ in the down projection, amplifying any
 * input outside the calibration span. With the floor active the result is the optimum for
 * {@code S + (raised part)}, i.e. it still weighs unseen directions a little; a floor of 1e-6
 * leaves every eigenvalue of a full-rank calibration matrix with condition number below 10⁶ alone.
 */
public final class ActivationAwareSvd {
  /** Default relative eigenvalue floor. */
  public static final double DEFAULT_FLOOR = 1e-6;

  private ActivationAwareSvd() {}

  /**
   * @param w {@code [out][d]}
   * @param moments {@code [d][d]} symmetric PSD second moment of the inputs
   * @param k rank
   * @param floor relative eigenvalue floor, in (0, 1)
   * @param solver truncated SVD of the {@code [out][d]} matrix D
   */
  public static Svd compute(Backend b, Tensor w, double[][] moments, int k, double floor,
      SvdSolver solver, Arena arena) {
    int d = w.cols();
    if (moments.length != d || moments[0].length != d) {
      throw new IllegalArgumentException("input moments are [" + moments.length + "]["
          + moments[0].length + "], weight " + w.shape() + " needs [" + d + "][" + d + "]");
    }
    if (!(floor > 0 && floor < 1)) {
      throw new IllegalArgumentException("eigenvalue floor must be in (0, 1), got " + floor);
    }
    // symmetrised: moments summed by a float GEMM may differ from their transpose in the last bit
    double[][] sym = new double[d][d];
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        sym[i][j] = 0.5 * (moments[i][j] + moments[j][i]);
      }
    }
    SymmetricEigen.Result eig = SymmetricEigen.of(sym);
    double[] lambda = eig.values();
    double[][] vectorsT = eig.vectorsT();
    double max = lambda[0];
    if (!(max > 0)) {
      throw new IllegalArgumentException("input moments are zero: no calibration tokens seen");
    }
    try (Arena tmp = Arena.ofShared()) {
      // scaleT = diag(√λ) Uᵀ, so D = W scaleTᵀ = linear(W, scaleT); unscale = U diag(1/√λ)
      Tensor scaleT = Tensor.allocate(tmp, DType.F32, d, d);
      Tensor unscale = Tensor.allocate(tmp, DType.F32, d, d);
      for (int i = 0; i < d; i++) {
        double l = Math.max(lambda[i], floor * max);
        double root = Math.sqrt(l);
        for (int j = 0; j < d; j++) {
          double u = vectorsT[i][j];
          scaleT.set(i, j, (float) (u * root));
          unscale.set(j, i, (float) (u / root));
        }
      }
      Tensor wF32 = w.dtype() == DType.F32 ? w : Dense.copy(tmp, w, DType.F32);
      Tensor dm = Tensor.allocate(tmp, DType.F32, w.rows(), d);
      b.linear(wF32, scaleT, dm);
      Svd s = solver.truncated(b, dm, k, tmp);
      // Qᵀ diag(1/√λ) Uᵀ = linear(Qᵀ, U diag(1/√λ))
      Tensor vt = Tensor.allocate(arena, DType.F32, k, d);
      b.linear(s.vt(), unscale, vt);
      return new Svd(Dense.copy(arena, s.u(), DType.F32), s.sigma().clone(), vt);
    }
  }
}
