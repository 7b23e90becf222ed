package dev.mla4j.convert;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;

/** How a truncated SVD is computed: exactly (small matrices) or randomized (large ones). */
@FunctionalInterface
public interface SvdSolver {
  /** Matrices with min(m, n) up to this are factorized exactly by {@link #AUTO}. */
  int EXACT_LIMIT = 1024;

  Svd truncated(Backend b, Tensor m, int k, Arena arena);

  /** Commons Math in double. */
  SvdSolver EXACT = (b, m, k, arena) -> Svd.exact(m, k, arena);

  /** {@link RandomizedSvd} with its default options. */
  SvdSolver RANDOMIZED = randomized(RandomizedSvd.Options.DEFAULT);

  /** Exact up to {@link #EXACT_LIMIT}, randomized above. */
  SvdSolver AUTO = (b, m, k, arena) -> Math.min(m.rows(), m.cols()) <= EXACT_LIMIT
      ? EXACT.truncated(b, m, k, arena) : RANDOMIZED.truncated(b, m, k, arena);

  static SvdSolver randomized(RandomizedSvd.Options o) {
    return (b, m, k, arena) -> RandomizedSvd.compute(b, m, k, o, arena);
  }
}
