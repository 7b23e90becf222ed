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
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.CholeskyDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Low-rank factorizations against independent references: Commons Math SVD/Cholesky in double,
 * and row gathers done here by index.
 */
class LowRankTest {

  /** Float tolerance of a reconstruction relative to max|M|: products of length <= a few hundred. */
  private static final double FLOAT_TOL = 2e-5;

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"UP, exact", "SQRT_BOTH, exact", "UP, randomized", "SQRT_BOTH, randomized"})
  void fullRankJointReproducesTheStackedMatrix(SigmaPlacement sigma, String solver) {
    Seeds.Case c = Seeds.forCase("full rank joint " + sigma + " " + solver);
    int d = 200;
    int heads = 4;
    int kvHeads = 2;
    int headDim = 16;
    int[][] kept = {{1, 4, 6}, {0, 2, 7}};
    int nope = headDim - 6;
    int dKv = nope + headDim; // L = n_kv·(d_nope + d_h) <= d: full rank
    try (Arena arena = Arena.ofShared(); Backend b = Backends.create(2)) {
      AttentionWeights w = randomLayer(arena, c, d, heads, kvHeads, headDim);
      MlaConverter.Options o = MlaConverter.Options.joint(dKv).withSigma(sigma)
          .withSolver(solver.equals("exact") ? SvdSolver.EXACT : SvdSolver.RANDOMIZED);
      MlaAttentionWeights m = MlaConverter.convertLayer(b, heads, kvHeads, headDim, w, kept, o, null, arena);
      double[][] down = Dense.toDouble(m.wDkv());
      double[][] uk = multiply(Dense.toDouble(m.wUk()), down);
      double[][] uv = multiply(Dense.toDouble(m.wUv()), down);
      double[][] wk = Dense.toDouble(w.wk());
      double[][] wv = Dense.toDouble(w.wv());
      double scale = maxAbs(wk);
      for (int j = 0; j < kvHeads; j++) {
        int row = 0;
        for (int i = 0; i < headDim; i++) {
          if (isKeptDim(kept[j], i, headDim)) {
            continue;
          }
          assertClose(wk[j * headDim + i], uk[j * nope + row], FLOAT_TOL * scale, c + " W_k,nope head " + j + " dim " + i);
          row++;
        }
      }
      for (int i = 0; i < wv.length; i++) {
        assertClose(wv[i], uv[i], FLOAT_TOL * scale, c + " W_v row " + i);
      }
      // the rope rows are the kept pairs' dims in compact order
      double[][] kr = Dense.toDouble(m.wKr());
      for (int j = 0; j < kvHeads; j++) {
        for (int p = 0; p < 3; p++) {
          assertClose(wk[j * headDim + kept[j][p]], kr[j * 6 + p], 0, c + " W_kr");
          assertClose(wk[j * headDim + kept[j][p] + headDim / 2], kr[j * 6 + 3 + p], 0, c + " W_kr");
        }
      }
      // Σ placement: UP leaves the down rows orthonormal; SQRT_BOTH gives them norm sqrt(σ)
      double[] s = singularValues(stack(nopeRows(wk, kept, headDim), wv));
      for (int i = 0; i < down.length; i++) {
        double norm = Math.sqrt(dot(down[i], down[i]));
        double expected = sigma == SigmaPlacement.UP ? 1 : Math.sqrt(s[i]);
        assertTrue(Math.abs(norm - expected) <= 1e-3 * expected, c + " down row " + i + " norm " + norm + " expected " + expected);
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(names = {"EXACT", "RANDOMIZED_Q2"})
  void truncatedErrorIsTheEckartYoungOptimum(Solver solver) {
    Seeds.Case c = Seeds.forCase("eckart young " + solver);
    int rows = 300;
    int cols = 180;
    int k = 40;
    // decaying spectrum σ_i = 1/(1 + i/8) with random singular vectors
    double[][] a = withSpectrum(c, rows, cols, i -> 1 / (1 + i / 8.0));
    double[] s = singularValues(a);
    double optimum = tail(s, k);
    try (Arena arena = Arena.ofShared(); Backend b = Backends.create(2)) {
      Tensor m = tensor(arena, a);
      Svd svd = solver.solver.truncated(b, m, k, arena);
      double err = frobenius(subtract(a, reconstruct(svd)));
      double limit = solver == Solver.EXACT ? optimum * (1 + 1e-4) : optimum * 1.03;
      assertTrue(err >= optimum * (1 - 1e-4), c + " error " + err + " below the optimum " + optimum);
      assertTrue(err <= limit, c + " " + solver + " error " + err + " vs optimum " + optimum);
      // The randomized estimates are Ritz values of A on a sampled subspace: never above the
      // true ones, and tight where the power iterations have separated them from the
      // unsampled tail, (σ_{k+p}/σ_i)^(2q+1) small. On this slow spectrum that holds for the
      // leading 3k/4; near i = k it does not (σ_38 off by 6% at one seed of many), so the tail
      // is held to the interlacing bound only.
      for (int i = 0; i < k; i++) {
        double tol = solver == Solver.EXACT ? 1e-6 : 1e-2;
        assertTrue(svd.sigma()[i] <= s[i] * (1 + 1e-6), c + " σ_" + i + " " + svd.sigma()[i]
            + " above " + s[i]);
        if (solver == Solver.EXACT || i < 3 * k / 4) {
          assertTrue(Math.abs(svd.sigma()[i] - s[i]) <= tol * s[0], c + " σ_" + i + " "
              + svd.sigma()[i] + " vs " + s[i]);
        }
      }
    }
  }

  @ParameterizedTest(name = "rank {0} of [{1}][{2}], k={3}")
  @CsvSource({"20, 300, 200, 20", "20, 300, 200, 25", "7, 64, 500, 7", "50, 200, 200, 60"})
  void randomizedIsExactOnLowRankMatrices(int rank, int rows, int cols, int k) {
    Seeds.Case c = Seeds.forCase("randomized low rank " + rank + " " + rows + " " + cols + " " + k);
    double[][] a = multiply(gaussian(c, rows, rank), gaussian(c, rank, cols));
    try (Arena arena = Arena.ofShared(); Backend b = Backends.create(2)) {
      Svd svd = RandomizedSvd.compute(b, tensor(arena, a), k, RandomizedSvd.Options.DEFAULT, arena);
      double err = maxAbs(subtract(a, reconstruct(svd))) / maxAbs(a);
      assertTrue(err <= 1e-5, c + " relative error " + err);
      for (int i = rank; i < k; i++) {
        assertTrue(svd.sigma()[i] <= 1e-5 * svd.sigma()[0], c + " σ_" + i + " = " + svd.sigma()[i]);
      }
    }
  }

  /**
   * At k = min(m, n) there is no room to oversample, so the randomized solver has to take the
   * whole range exactly. With a square Gaussian sketch, a nearly singular draw now and then made
   * RowBasis zero a row it took for dependent (a 10% error in the full-rank joint case above,
   * seed 47634060651417, two runs in five). 24 sketch seeds on a wide and a tall matrix.
   */
  @ParameterizedTest(name = "[{0}][{1}]")
  @CsvSource({"52, 200", "200, 52"})
  void randomizedAtFullRankIsExactForEverySketch(int rows, int cols) {
    Seeds.Case c = Seeds.forCase("randomized full rank " + rows + " " + cols);
    double[][] a = gaussian(c, rows, cols);
    int k = Math.min(rows, cols);
    try (Arena arena = Arena.ofShared(); Backend b = Backends.create(2)) {
      Tensor t = tensor(arena, a);
      for (long seed = 0; seed < 24; seed++) {
        Svd svd = RandomizedSvd.compute(b, t, k, new RandomizedSvd.Options(10, 2, seed), arena);
        double err = maxAbs(subtract(a, reconstruct(svd))) / maxAbs(a);
        assertTrue(err <= 1e-5, c + " sketch seed " + seed + " relative error " + err);
      }
    }
  }

  @ParameterizedTest(name = "k={0}")
  @CsvSource({"4", "12"})
  void activationAwareReachesTheOutputErrorOptimum(int k) {
    Seeds.Case c = Seeds.forCase("activation aware " + k);
    int out = 40;
    int d = 32;
    int tokens = 400;
    double[][] w = gaussian(c, out, d);
    // anisotropic, correlated inputs: x = Z diag(scale) R, scale spanning 100x
    double[][] x = multiply(gaussian(c, tokens, d), randomMixing(c, d));
    double[][] s = new double[d][d];
    for (double[] xt : x) {
      for (int i = 0; i < d; i++) {
        for (int j = 0; j < d; j++) {
          s[i][j] += xt[i] * xt[j] / tokens;
        }
      }
    }
    // the optimum: with S = C Cᵀ, E‖(W - A)x‖² = ‖(W - A)C‖_F², minimised by the SVD of W C
    RealMatrix chol = new CholeskyDecomposition(new Array2DRowRealMatrix(s)).getL();
    double optimum = tail(singularValues(new Array2DRowRealMatrix(w).multiply(chol).getData()), k);
    optimum *= optimum;
    try (Arena arena = Arena.ofShared(); Backend b = Backends.create(2)) {
      Tensor tw = tensor(arena, w);
      for (SigmaPlacement p : SigmaPlacement.values()) {
        Svd aware = ActivationAwareSvd.compute(b, tw, s, k, 1e-9, SvdSolver.EXACT, arena);
        SigmaPlacement.Factors f = p.split(aware, DType.F32, arena);
        double awareErr = outputError(subtract(w, multiply(Dense.toDouble(f.up()), Dense.toDouble(f.down()))), x);
        double plainErr = outputError(subtract(w, reconstruct(Svd.exact(tw, k, arena))), x);
        assertTrue(Math.abs(awareErr - optimum) <= 1e-3 * optimum, c + " " + p + " activation-aware error "
            + awareErr + " vs optimum " + optimum);
        assertTrue(awareErr < plainErr * 0.95, c + " activation-aware " + awareErr
            + " not clearly below weight-only " + plainErr);
      }
    }
  }

  enum Solver {
    EXACT(SvdSolver.EXACT),
    RANDOMIZED_Q2(SvdSolver.randomized(new RandomizedSvd.Options(10, 2, 7)));

    final SvdSolver solver;

    Solver(SvdSolver s) {
      this.solver = s;
    }
  }

  // ---- independent double-precision helpers

  static AttentionWeights randomLayer(Arena arena, Seeds.Case c, int d, int heads, int kvHeads,
      int headDim) {
    Tensor wq = tensor(arena, gaussian(c, heads * headDim, d));
    Tensor wk = tensor(arena, gaussian(c, kvHeads * headDim, d));
    Tensor wv = tensor(arena, gaussian(c, kvHeads * headDim, d));
    Tensor wo = tensor(arena, gaussian(c, d, heads * headDim));
    return new AttentionWeights(wq, null, wk, null, wv, null, wo);
  }

  private static boolean isKeptDim(int[] kept, int dim, int headDim) {
    for (int p : kept) {
      if (dim == p || dim == p + headDim / 2) {
        return true;
      }
    }
    return false;
  }

  private static double[][] nopeRows(double[][] wk, int[][] kept, int headDim) {
    java.util.List<double[]> rows = new java.util.ArrayList<>();
    for (int j = 0; j < kept.length; j++) {
      for (int i = 0; i < headDim; i++) {
        if (!isKeptDim(kept[j], i, headDim)) {
          rows.add(wk[j * headDim + i]);
        }
      }
    }
    return rows.toArray(new double[0][]);
  }

  private static double[][] stack(double[][] a, double[][] b) {
    double[][] out = new double[a.length + b.length][];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  private static double[][] withSpectrum(Seeds.Case c, int rows, int cols,
      java.util.function.IntToDoubleFunction sigma) {
    int n = Math.min(rows, cols);
    SingularValueDecomposition a = new SingularValueDecomposition(new Array2DRowRealMatrix(gaussian(c, rows, n)));
    SingularValueDecomposition b = new SingularValueDecomposition(new Array2DRowRealMatrix(gaussian(c, cols, n)));
    double[][] u = a.getU().getData();
    double[][] v = b.getU().getData();
    double[][] out = new double[rows][cols];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        double s = 0;
        for (int p = 0; p < n; p++) {
          s += u[i][p] * sigma.applyAsDouble(p) * v[j][p];
        }
        out[i][j] = s;
      }
    }
    return out;
  }

  private static double[][] randomMixing(Seeds.Case c, int d) {
    double[][] r = new SingularValueDecomposition(new Array2DRowRealMatrix(gaussian(c, d, d))).getU().getData();
    for (int i = 0; i < d; i++) {
      double scale = Math.pow(100, -(double) i / (d - 1));
      for (int j = 0; j < d; j++) {
        r[i][j] *= scale;
      }
    }
    return r;
  }

  /** Mean over the rows x_t of ‖E x_t‖². */
  private static double outputError(double[][] e, double[][] x) {
    double sum = 0;
    for (double[] xt : x) {
      for (double[] row : e) {
        double y = dot(row, xt);
        sum += y * y;
      }
    }
    return sum / x.length;
  }

  static double[] singularValues(double[][] a) {
    return new SingularValueDecomposition(new Array2DRowRealMatrix(a)).getSingularValues();
  }

  private static double tail(double[] s, int k) {
    double t = 0;
    for (int i = k; i < s.length; i++) {
      t += s[i] * s[i];
    }
    return Math.sqrt(t);
  }

  static double[][] reconstruct(Svd s) {
    double[][] u = Dense.toDouble(s.u());
    double[][] vt = Dense.toDouble(s.vt());
    for (double[] row : u) {
      for (int c = 0; c < s.rank(); c++) {
        row[c] *= s.sigma()[c];
      }
    }
    return multiply(u, vt);
  }

  static double[][] gaussian(Seeds.Case c, int rows, int cols) {
    double[][] out = new double[rows][cols];
    for (double[] row : out) {
      for (int j = 0; j < cols; j++) {
        row[j] = (float) (c.random().nextGaussian() / Math.sqrt(cols));
      }
    }
    return out;
  }

  static double[][] multiply(double[][] a, double[][] b) {
    double[][] out = new double[a.length][b[0].length];
    for (int i = 0; i < a.length; i++) {
      for (int p = 0; p < b.length; p++) {
        double x = a[i][p];
        for (int j = 0; j < b[0].length; j++) {
          out[i][j] += x * b[p][j];
        }
      }
    }
    return out;
  }

  private static double[][] subtract(double[][] a, double[][] b) {
    double[][] out = new double[a.length][a[0].length];
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[0].length; j++) {
        out[i][j] = a[i][j] - b[i][j];
      }
    }
    return out;
  }

  private static double frobenius(double[][] a) {
    double s = 0;
    for (double[] row : a) {
      s += dot(row, row);
    }
    return Math.sqrt(s);
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  static double maxAbs(double[][] a) {
    double m = 0;
    for (double[] row : a) {
      for (double v : row) {
        m = Math.max(m, Math.abs(v));
      }
    }
    return m;
  }

  private static void assertClose(double[] want, double[] got, double tol, String what) {
    for (int i = 0; i < want.length; i++) {
      if (Math.abs(want[i] - got[i]) > tol) {
        throw new AssertionError(what + " col " + i + ": " + got[i] + " vs " + want[i] + " (tol " + tol + ")");
      }
    }
  }


  static Tensor tensor(Arena arena, double[][] a) {
    Tensor t = Tensor.allocate(arena, DType.F32, a.length, a[0].length);
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[0].length; j++) {
        t.set(i, j, (float) a[i][j]);
      }
    }
    return t;
  }
}
