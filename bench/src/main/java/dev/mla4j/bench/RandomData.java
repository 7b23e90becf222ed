package dev.mla4j.bench;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.SplittableRandom;

/**
 * Benchmark inputs: Gaussian values, never zeros, so no kernel gets a shortcut (zero products,
 * a flat softmax) that real activations would not give it. Seeded, so runs see the same data.
 */
public final class RandomData {
  private final SplittableRandom random;

  public RandomData(long seed) {
    this.random = new SplittableRandom(seed);
  }

  /** A new {@code [rows][cols]} tensor of {@code dtype} filled with N(0, std²) values. */
  Tensor gaussian(Arena arena, DType dtype, int rows, int cols, double std) {
    Tensor t = Tensor.allocate(arena, dtype, rows, cols);
    fill(t, std);
    return t;
  }

  /** Fills {@code t} with N(0, std²) values. */
  public void fill(Tensor t, double std) {
    for (int i = 0; i < t.rows(); i++) {
      for (int j = 0; j < t.cols(); j++) {
        t.set(i, j, (float) (std * random.nextGaussian()));
      }
    }
  }

  int nextInt(int bound) {
    return random.nextInt(bound);
  }
}
