package dev.mla4j.conformance;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.MlaShape;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.oracle.AttentionOracle;
import dev.mla4j.oracle.LinearOracle;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.projection.LatentProjection;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.Caches;
import dev.mla4j.testing.Conformance;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Naive MLA (spec 4.1: decompress K_nope and V per kv head) equals absorbed MLA (spec 4.3) as the
 * library computes it: {@link LatentProjection#absorbQuery} ({@code q~ = W_uk^(j)ᵀ q_nope}),
 * {@code mlaAttention}, then {@link LatentProjection#absorbOutput} ({@code o_h = W_uv^(j) u_h}).
 */
class AbsorbedMlaTest {

  @ParameterizedTest(name = "n_h={0} n_kv={1} d_h={2} r={3} d_kv={4} {5} T={6}@{7}")
  @CsvSource({
      "2, 1, 10, 1, 3, F32, 1, 4",
      "4, 2, 18, 2, 7, BF16, 3, 61",
      "9, 3, 64, 4, 16, BF16, 1, 99", // SmolLM-135M d_kv 16
      "9, 3, 64, 4, 8, F16, 4, 64",
      "32, 32, 128, 8, 16, BF16, 1, 69", // Llama-2-7B d_kv 16
  })
  void libraryAbsorbedPathEqualsNaiveOracle(int heads, int kvHeads, int headDim, int r, int dKv,
      DType weights, int tokens, int firstQueryPos) {
    Seeds.Case c = Seeds.forCase("absorbed " + heads + " " + kvHeads + " " + headDim + " " + r
        + " " + dKv + " " + weights + " " + tokens + " " + firstQueryPos);
    MlaShape s = MlaShape.mha2mla(heads, kvHeads, headDim, r, dKv);
    int dr = 2 * r;
    int nope = headDim - dr;
    int latent = s.latentDim();
    int ctx = firstQueryPos + tokens;
    try (Arena arena = Arena.ofShared(); LatentCache cache = new LatentCache(s, 1, weights, ctx)) {
      Caches.fill(arena, c, cache, 0, ctx, 0);
      Tensor wUk = Inputs.gaussian(arena, c, weights, kvHeads * nope, latent, 1 / Math.sqrt(latent));
      Tensor wUv = Inputs.gaussian(arena, c, weights, kvHeads * headDim, latent, 1);
      double qStd = 2 / (s.softmaxScale() * Math.sqrt(headDim));
      Tensor qRope = Inputs.gaussian(arena, c, DType.F32, tokens * heads, dr, qStd);
      Tensor qNope = Inputs.gaussian(arena, c, DType.F32, tokens, heads * nope, qStd);
      double[] ref = AttentionOracle.mlaNaive(TensorReader.read(qRope), TensorReader.read(qNope),
          Caches.ropeKeys(cache, 0, ctx), Caches.latents(cache, 0, ctx), TensorReader.read(wUk),
          TensorReader.read(wUv), heads, kvHeads, dr, nope, headDim, latent, firstQueryPos,
          s.softmaxScale());
      double floor = ErrorCheck.floor(DType.F32, nope + dr + ctx + 2L * latent);
      LatentProjection projection = new LatentProjection(s, headDim,
          Inputs.gaussian(arena, c, weights, latent, 8, 1), Inputs.gaussian(arena, c, weights,
              kvHeads * dr, 8, 1), wUk, wUv);
      Conformance.check("absorbed MLA", c, 2, ref, floor, b -> {
        Tensor qLatent = Inputs.nanFilled(arena, DType.F32, tokens * heads, latent);
        projection.absorbQuery(b, qNope.splitRows(nope), qLatent);
        Tensor u = Inputs.nanFilled(arena, DType.F32, tokens * heads, latent);
        b.mlaAttention(s, qRope, qLatent, cache, 0, firstQueryPos, u);
        Tensor out = Inputs.nanFilled(arena, DType.F32, tokens * heads, headDim);
        projection.absorbOutput(b, u, out);
        return Inputs.floats(out);
      });
    }
  }

  /** The oracle's two MLA forms agree with each other in double (a check of the oracle). */
  @ParameterizedTest(name = "n_h={0} n_kv={1} d_h={2} r={3} d_kv={4}")
  @CsvSource({"4, 2, 18, 2, 7", "9, 3, 64, 4, 16", "3, 1, 8, 0, 5"})
  void oracleNaiveEqualsOracleAbsorbed(int heads, int kvHeads, int headDim, int r, int dKv) {
    Seeds.Case c = Seeds.forCase("oracle forms " + heads + " " + headDim);
    int dr = 2 * r;
    int nope = headDim - dr;
    int latent = kvHeads * dKv;
    int tokens = 3;
    int first = 40;
    int ctx = first + tokens;
    int group = heads / kvHeads;
    double[] qRope = doubles(c, tokens * heads * dr);
    double[] qNope = doubles(c, tokens * heads * nope);
    double[] kRope = doubles(c, ctx * kvHeads * dr);
    double[] lat = doubles(c, ctx * latent);
    double[] wUk = doubles(c, kvHeads * nope * latent);
    double[] wUv = doubles(c, kvHeads * headDim * latent);
    double scale = 1 / Math.sqrt(headDim);
    double[] naive = AttentionOracle.mlaNaive(qRope, qNope, kRope, lat, wUk, wUv, heads, kvHeads,
        dr, nope, headDim, latent, first, scale);
    double[] qLatent = new double[tokens * heads * latent];
    for (int i = 0; i < tokens * heads; i++) {
      int j = (i % heads) / group;
      double[] q = java.util.Arrays.copyOfRange(qNope, i * nope, (i + 1) * nope);
      double[] w = java.util.Arrays.copyOfRange(wUk, j * nope * latent, (j + 1) * nope * latent);
      System.arraycopy(LinearOracle.linearTransposed(q, w, 1, nope, latent), 0, qLatent,
          i * latent, latent);
    }
    double[] u = AttentionOracle.mlaAbsorbed(qRope, qLatent, kRope, lat, heads, kvHeads, dr,
        latent, false, first, scale);
    for (int i = 0; i < tokens * heads; i++) {
      int j = (i % heads) / group;
      double[] w = java.util.Arrays.copyOfRange(wUv, j * headDim * latent,
          (j + 1) * headDim * latent);
      double[] ui = java.util.Arrays.copyOfRange(u, i * latent, (i + 1) * latent);
      double[] o = LinearOracle.linear(ui, w, 1, latent, headDim);
      for (int e = 0; e < headDim; e++) {
        double diff = Math.abs(o[e] - naive[i * headDim + e]);
        assertTrue(diff <= 1e-10 * (1 + Math.abs(o[e])), "row " + i + " dim " + e + ": absorbed "
            + o[e] + " vs naive " + naive[i * headDim + e] + " " + c);
      }
    }
  }

  private static double[] doubles(Seeds.Case c, int n) {
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = c.random().nextGaussian();
    }
    return out;
  }

}
