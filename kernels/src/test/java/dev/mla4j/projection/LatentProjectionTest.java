package dev.mla4j.projection;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.oracle.LinearOracle;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.Conformance;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The down and up projections of {@link LatentProjection} against the oracle (the absorbed paths
 * are covered end to end by AbsorbedMlaTest), and its shape errors.
 */
class LatentProjectionTest {

  @ParameterizedTest(name = "d={0} n_kv={1} d_h={2} r={3} d_kv={4} {5} T={6}")
  @CsvSource({
      "33, 3, 18, 2, 5, F32, 1",
      "64, 3, 64, 4, 16, BF16, 5", // SmolLM-135M head shapes, small d
      "96, 2, 32, 0, 7, F16, 3",
  })
  void downAndUpMatchTheOracle(int d, int kvHeads, int headDim, int r, int dKv, DType weights,
      int tokens) {
    Seeds.Case c = Seeds.forCase("projection " + d + " " + kvHeads + " " + headDim + " " + r);
    MlaShape s = MlaShape.mha2mla(kvHeads * 2, kvHeads, headDim, r, dKv);
    int latent = s.latentDim();
    int rope = kvHeads * 2 * r;
    int nope = headDim - 2 * r;
    try (Arena arena = Arena.ofShared()) {
      Tensor wDkv = Inputs.gaussian(arena, c, weights, latent, d, 1 / Math.sqrt(d));
      Tensor wKr = Inputs.gaussian(arena, c, weights, rope, d, 1 / Math.sqrt(d));
      Tensor wUk = Inputs.gaussian(arena, c, weights, kvHeads * nope, latent, 1);
      Tensor wUv = Inputs.gaussian(arena, c, weights, kvHeads * headDim, latent, 1);
      LatentProjection p = new LatentProjection(s, headDim, wDkv, wKr, wUk, wUv);
      Tensor x = Inputs.gaussian(arena, c, DType.F32, tokens, d, 1);
      double[] xs = TensorReader.read(x);
      double[] latentRef = LinearOracle.linear(xs, TensorReader.read(wDkv), tokens, d, latent);
      double[] ropeRef = LinearOracle.linear(xs, TensorReader.read(wKr), tokens, d, rope);
      double[] downRef = concat(latentRef, ropeRef);
      double downTerms = Math.max(
          LinearOracle.termNorm(xs, TensorReader.read(wDkv), tokens, d, latent),
          LinearOracle.termNorm(xs, TensorReader.read(wKr), tokens, d, rope));
      Conformance.check("down", c, 2, downRef, floor(d, downRef, downTerms), b -> {
        Tensor lat = Inputs.nanFilled(arena, DType.F32, tokens, latent);
        Tensor kr = Inputs.nanFilled(arena, DType.F32, tokens, rope);
        p.down(b, x, lat, kr);
        return concat(Inputs.floats(lat), Inputs.floats(kr));
      });

      Tensor c0 = Inputs.gaussian(arena, c, DType.F32, tokens, latent, 1);
      double[] cs = TensorReader.read(c0);
      double[] upRef = concat(
          LinearOracle.linear(cs, TensorReader.read(wUk), tokens, latent, kvHeads * nope),
          LinearOracle.linear(cs, TensorReader.read(wUv), tokens, latent, kvHeads * headDim));
      double upTerms = Math.max(
          LinearOracle.termNorm(cs, TensorReader.read(wUk), tokens, latent, kvHeads * nope),
          LinearOracle.termNorm(cs, TensorReader.read(wUv), tokens, latent, kvHeads * headDim));
      Conformance.check("up", c, 2, upRef, floor(latent, upRef, upTerms), b -> {
        Tensor k = Inputs.nanFilled(arena, DType.F32, tokens, kvHeads * nope);
        Tensor v = Inputs.nanFilled(arena, DType.F32, tokens, kvHeads * headDim);
        p.upKeys(b, c0, k);
        p.upValues(b, c0, v);
        return concat(Inputs.floats(k), Inputs.floats(v));
      });
    }
  }

  @Test
  void wrongShapesNameTheMatrix() {
    MlaShape s = MlaShape.mha2mla(4, 2, 16, 2, 4);
    try (Arena arena = Arena.ofShared()) {
      Tensor wDkv = Tensor.allocate(arena, DType.F32, 8, 32);
      Tensor wKr = Tensor.allocate(arena, DType.F32, 8, 32);
      Tensor wUk = Tensor.allocate(arena, DType.F32, 24, 8);
      Tensor wUv = Tensor.allocate(arena, DType.F32, 32, 8);
      new LatentProjection(s, 16, wDkv, wKr, wUk, wUv);
      var bad = assertThrows(IllegalArgumentException.class,
          () -> new LatentProjection(s, 16, wDkv, wKr, wUk, Tensor.allocate(arena, DType.F32, 31, 8)));
      assertTrue(bad.getMessage().contains("W_uv"), bad.getMessage());
      MlaShape shared = new MlaShape(4, 1, 4, 8, RopeKeyLayout.SHARED, 0.25f);
      var layout = assertThrows(IllegalArgumentException.class,
          () -> new LatentProjection(shared, 16, wDkv, wKr, wUk, wUv));
      assertTrue(layout.getMessage().contains("SHARED"), layout.getMessage());
      LatentProjection p = new LatentProjection(s, 16, wDkv, wKr, wUk, wUv);
      try (var b = dev.mla4j.api.Backends.scalar(1)) {
        var rows = assertThrows(IllegalArgumentException.class, () -> p.absorbQuery(b,
            Tensor.allocate(arena, DType.F32, 3, 12), Tensor.allocate(arena, DType.F32, 3, 8)));
        assertTrue(rows.getMessage().contains("n_h=4"), rows.getMessage());
      }
    }
  }

  /** The suite's linear floor, widened by the conditioning of the outputs (see ErrorCheck). */
  private static double floor(int n, double[] ref, double termNorm) {
    return ErrorCheck.conditioned(ErrorCheck.floor(DType.F32, n), ref, termNorm);
  }

  private static double[] concat(double[] a, double[] b) {
    double[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  private static float[] concat(float[] a, float[] b) {
    float[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
