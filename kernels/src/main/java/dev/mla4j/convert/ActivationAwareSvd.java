package dev.mla4j.convert;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Arrays;

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
 *
 * <p>Damping (TransMLA's, spec 9.1): {@code damping · mean λ} is added to every eigenvalue, i.e. the
 * objective becomes {@code E‖ΔW x‖² + damping · mean λ · ‖ΔW‖²_F}, between the activation-aware
 * optimum (0) and the weight-only SVD (→ ∞). It hedges against calibration inputs that
 * under-represent directions the held-out data uses.
 *
 * <p>Row weights ({@link AttentionErrorWeights}): minimising {@code ‖A (W − B) S^{1/2}‖} with an
 * output-side weighting A picks the kept subspace from the SVD of {@code A W U diag(√λ)}; for that
 * down projection {@code Qᵀ diag(1/√λ) Uᵀ} the optimal up projection does not depend on A: it is the
 * least-squares fit {@code W S downᵀ (down S downᵀ)⁻¹ = W U diag(√λ) Q}, computed from the
 * unweighted W (so A need not be invertible).
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
    return compute(b, w, null, moments, k, floor, 0, solver, arena);
  }

  /**
   * As {@link #compute(Backend, Tensor, double[][], int, double, SvdSolver, Arena)}, with the
   * kept subspace chosen on {@code weighted = A·W} {@code [out][d]} (null: A = I); σ are then the
   * weighted problem's singular values and {@code u diag(σ)} the least-squares up projection.
   */
  public static Svd compute(Backend b, Tensor w, Tensor weighted, double[][] moments, int k,
      double floor, double damping, SvdSolver solver, Arena arena) {
    int d = w.cols();
    if (moments.length != d || moments[0].length != d) {
      throw new IllegalArgumentException("input moments are [" + moments.length + "]["
          + moments[0].length + "], weight " + w.shape() + " needs [" + d + "][" + d + "]");
    }
    if (!(floor > 0 && floor < 1)) {
      throw new IllegalArgumentException("eigenvalue floor must be in (0, 1), got " + floor);
    }
    // moments summed by a float GEMM may differ from their transpose in the last bit
    SymmetricEigen.Result eig = SymmetricEigen.of(Dense.symmetrized(moments));
    double[] lambda = eig.values();
    double[][] vectorsT = eig.vectorsT();
    double max = lambda[0];
    if (!(max > 0)) {
      throw new IllegalArgumentException("input moments are zero: no calibration tokens seen");
    }
    if (!(damping >= 0)) {
      throw new IllegalArgumentException("damping must be >= 0, got " + damping);
    }
    double shift = damping * Arrays.stream(lambda).map(l -> Math.max(l, 0)).average().orElse(0);
    try (Arena tmp = Arena.ofShared()) {
      // scaleT = diag(√λ) Uᵀ, so D = W scaleTᵀ = linear(W, scaleT); unscale = U diag(1/√λ)
      Tensor scaleT = Tensor.allocate(tmp, DType.F32, d, d);
      Tensor unscale = Tensor.allocate(tmp, DType.F32, d, d);
      for (int i = 0; i < d; i++) {
        double l = Math.max(lambda[i] + shift, floor * max);
        double root = Math.sqrt(l);
        for (int j = 0; j < d; j++) {
          double u = vectorsT[i][j];
          scaleT.set(i, j, (float) (u * root));
          unscale.set(j, i, (float) (u / root));
        }
      }
      Tensor wF32 = w.dtype() == DType.F32 ? w : Dense.copy(tmp, w, DType.F32);
      Tensor target = weighted == null ? wF32 : weighted;
      Tensor dm = Tensor.allocate(tmp, DType.F32, target.rows(), d);
      b.linear(target, scaleT, dm);
      Svd s = solver.truncated(b, dm, k, tmp);
      // Qᵀ diag(1/√λ) Uᵀ = linear(Qᵀ, U diag(1/√λ))
      Tensor vt = Tensor.allocate(arena, DType.F32, k, d);
      b.linear(s.vt(), unscale, vt);
      if (weighted == null) {
        return new Svd(Dense.copy(arena, s.u(), DType.F32), s.sigma().clone(), vt);
      }
      return new Svd(leastSquaresUp(b, wF32, s, scaleT, arena), s.sigma().clone(), vt);
    }
  }

  /** {@code W U diag(√λ) Q diag(1/σ)} {@code [out][k]}; a zero σ gives a zero column. */
  private static Tensor leastSquaresUp(Backend b, Tensor w, Svd s, Tensor scaleT, Arena arena) {
    int k = s.rank();
    int d = w.cols();
    try (Arena tmp = Arena.ofShared()) {
      Tensor scale = Dense.transpose(tmp, scaleT); // U diag(√λ)
      Tensor basisT = Tensor.allocate(tmp, DType.F32, k, d); // (U diag(√λ) Q)ᵀ
      b.linear(s.vt(), scale, basisT);
      Tensor up = Tensor.allocate(arena, DType.F32, w.rows(), k);
      b.linear(w, basisT, up);
      double[] inverse = new double[k];
      for (int c = 0; c < k; c++) {
        inverse[c] = s.sigma()[c] > 0 ? 1 / s.sigma()[c] : 0;
      }
      for (int i = 0; i < up.rows(); i++) {
        for (int c = 0; c < k; c++) {
          up.set(i, c, (float) (up.get(i, c) * inverse[c]));
        }
      }
      return up;
    }
  }
}
