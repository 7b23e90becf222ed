package dev.mla4j.conformance;

import dev.mla4j.api.Backend;
import dev.mla4j.oracle.LinearOracle;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.Conformance;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code linear} (y = x Wᵀ) and {@code linearTransposed} (y = x W) of every backend vs the oracle. */
@Tag("simd")
class LinearTest {
  static final int[] ODD = {1, 3, 7, 15, 17, 31, 33, 63, 65, 127, 129};

  /** Every odd size as the reduction, each with two output widths, per dtype and T in {1, 4}. */
  static Stream<Arguments> sweep() {
    List<Arguments> cases = new ArrayList<>();
    int k = 0;
    for (DType dtype : DType.values()) {
      for (int tokens : new int[] {1, 4}) {
        for (int in : ODD) {
          for (int step : new int[] {3, 7}) {
            int out = ODD[(k++ * step) % ODD.length];
            cases.add(Arguments.of(dtype, tokens, in, out, 1, false));
          }
        }
      }
    }
    return cases.stream();
  }

  /**
   * Strided views for x, W and y; large enough that the 2-thread column split engages; the paper's
   * projection shapes (W_uk blocks of Llama-2-7B d_kv 16 and DeepSeek-V2-Lite).
   */
  static Stream<Arguments> stridedAndThreaded() {
    List<Arguments> cases = new ArrayList<>();
    for (DType dtype : DType.values()) {
      cases.add(Arguments.of(dtype, 3, 65, 33, 1, true));
      cases.add(Arguments.of(dtype, 5, 129, 1025, 2, true));
      cases.add(Arguments.of(dtype, 1, 257, 513, 2, false));
      cases.add(Arguments.of(dtype, 7, 112, 512, 2, false)); // Llama-2-7B: d_nope 112, L 512
      cases.add(Arguments.of(dtype, 2, 128, 512, 2, true)); // DeepSeek-V2-Lite: nope 128, L 512
      // more tokens and inputs than one GEMM tile and k block (SIMD: 64 tokens, 512 inputs)
      cases.add(Arguments.of(dtype, 67, 1100, 37, 2, true));
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} T={1} in={2} out={3} threads={4} strided={5}")
  @MethodSource({"sweep", "stridedAndThreaded"})
  void linear(DType dtype, int tokens, int in, int out, int threads, boolean strided) {
    check(Product.LINEAR, dtype, tokens, in, out, threads, strided);
  }

  @ParameterizedTest(name = "{0} T={1} in={2} out={3} threads={4} strided={5}")
  @MethodSource({"sweep", "stridedAndThreaded"})
  void linearTransposed(DType dtype, int tokens, int in, int out, int threads, boolean strided) {
    check(Product.TRANSPOSED, dtype, tokens, in, out, threads, strided);
  }

  /**
   * The two products with W {@code [out][in]}: {@code x Wᵀ} reduces over W's columns (in),
   * {@code x W} over its rows (out); x is as wide as the reduction, y as the other side.
   */
  private enum Product {
    LINEAR("linear", "linear"),
    TRANSPOSED("linearT", "linearTransposed");

    /**
     * Prefix of the case's seed name, apart from {@link #what} so that the seed printed by a
     * failure replays the same inputs.
     */
    final String seedPrefix;
    /** The operation's name in failure messages. */
    final String what;

    Product(String seedPrefix, String what) {
      this.seedPrefix = seedPrefix;
      this.what = what;
    }

    int reduction(int in, int out) {
      return this == LINEAR ? in : out;
    }

    int outputs(int in, int out) {
      return this == LINEAR ? out : in;
    }

    double[] oracle(double[] x, double[] w, int tokens, int in, int out) {
      return this == LINEAR ? LinearOracle.linear(x, w, tokens, in, out)
          : LinearOracle.linearTransposed(x, w, tokens, out, in);
    }

    double termNorm(double[] x, double[] w, int tokens, int in, int out) {
      return this == LINEAR ? LinearOracle.termNorm(x, w, tokens, in, out)
          : LinearOracle.termNormTransposed(x, w, tokens, out, in);
    }

    void run(Backend b, Tensor x, Tensor w, Tensor y) {
      if (this == LINEAR) {
        b.linear(x, w, y);
      } else {
        b.linearTransposed(x, w, y);
      }
    }
  }

  private static void check(Product p, DType dtype, int tokens, int in, int out, int threads,
      boolean strided) {
    Seeds.Case c = Seeds.forCase(p.seedPrefix + " " + dtype + " " + tokens + " " + in + " " + out);
    try (Arena arena = Arena.ofShared()) {
      Tensor x = make(arena, c, DType.F32, tokens, p.reduction(in, out), strided);
      Tensor w = make(arena, c, dtype, out, in, strided);
      double[] xd = TensorReader.read(x);
      double[] wd = TensorReader.read(w);
      double[] ref = p.oracle(xd, wd, tokens, in, out);
      double floor = ErrorCheck.conditioned(ErrorCheck.floor(DType.F32, p.reduction(in, out)),
          ref, p.termNorm(xd, wd, tokens, in, out));
      Conformance.check(p.what, c, threads, ref, floor, b -> {
        Tensor y = output(arena, tokens, p.outputs(in, out), strided);
        p.run(b, x, w, y);
        return Inputs.floats(y);
      });
    }
  }

  private static Tensor make(Arena arena, Seeds.Case c, DType dtype, int rows, int cols,
      boolean strided) {
    return strided ? Inputs.stridedGaussian(arena, c, dtype, rows, cols, 3, 5, 1)
        : Inputs.gaussian(arena, c, dtype, rows, cols, 1);
  }

  private static Tensor output(Arena arena, int rows, int cols, boolean strided) {
    return strided ? Inputs.stridedNan(arena, DType.F32, rows, cols, 1, 7)
        : Inputs.nanFilled(arena, DType.F32, rows, cols);
  }
}
