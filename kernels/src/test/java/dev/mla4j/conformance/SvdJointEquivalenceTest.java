package dev.mla4j.conformance;

import static dev.mla4j.testing.LayerPaths.project;
import static dev.mla4j.testing.LayerPaths.projectRoped;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.cache.KvCache;
import dev.mla4j.oracle.AttentionOracle;
import dev.mla4j.oracle.LinearOracle;
import dev.mla4j.oracle.RopeOracle;
import dev.mla4j.rope.PairLayout;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.rope.RopeFrequencies;
import dev.mla4j.rope.RopeScaling;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.Conformance;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.LayerPaths;
import dev.mla4j.testing.RopeSets;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * An MHA/GQA layer with random weights, converted at full rank with SVD_joint (spec 3.2:
 * {@code [W_k,nope ; W_v] = U S Vᵀ}, {@code W_dkv = Vᵀ}, {@code [W_uk ; W_uv] = U S}), attends
 * the same through the library's MLA path as through its MHA baseline path. The baseline keeps
 * RoPE on the same random pairs per kv head, by permuting each head's dims so that the kept pairs
 * come first (a permutation of head dims leaves every dot product unchanged). Both paths are also
 * checked against a double-precision run of the unconverted layer.
 */
class SvdJointEquivalenceTest {

  @ParameterizedTest(name = "d={0} n_h={1} n_kv={2} d_h={3} r={4} ctx={5} T={6}")
  @CsvSource({
      "64, 4, 2, 16, 2, 20, 1",
      "64, 4, 2, 16, 2, 70, 5",
      "96, 6, 3, 16, 3, 66, 2",
      "80, 3, 3, 12, 1, 9, 9",
  })
  void convertedLayerMatchesMhaBaseline(int d, int heads, int kvHeads, int headDim, int r,
      int ctx, int tokens) {
    Seeds.Case c = Seeds.forCase("svd joint " + d + " " + heads + " " + headDim + " " + ctx);
    int group = heads / kvHeads;
    int dr = 2 * r;
    int nope = headDim - dr;
    int pairs = headDim / 2;
    int latent = Math.min(kvHeads * (nope + headDim), d); // full rank of [W_k,nope ; W_v]
    if (latent % kvHeads != 0) {
      throw new AssertionError("test shape: L=" + latent + " is not a multiple of n_kv");
    }
    int first = ctx - tokens;
    int[][][] kept = RopeSets.random(c, 1, kvHeads, r, pairs);
    RopeFrequencies freq = RopeFrequencies.of(headDim, 1e4, RopeScaling.none());
    PartialRope rope = new PartialRope(freq, PairLayout.HALF_SPLIT, kept);

    double[][] wq = gaussian(c, heads * headDim, d);
    double[][] wk = gaussian(c, kvHeads * headDim, d);
    double[][] wv = gaussian(c, kvHeads * headDim, d);
    // per head: kept dims first (compact rope order i_1..i_r, i_1+F..i_r+F), then the rest
    int[][] order = new int[kvHeads][];
    for (int j = 0; j < kvHeads; j++) {
      order[j] = ropeFirstOrder(kept[0][j], pairs);
    }
    double[][] wqRope = new double[heads * dr][];
    double[][] wqNope = new double[heads * nope][];
    for (int h = 0; h < heads; h++) {
      split(wq, h * headDim, order[h / group], dr, wqRope, h * dr, wqNope, h * nope);
    }
    double[][] wkRope = new double[kvHeads * dr][];
    double[][] wkNope = new double[kvHeads * nope][];
    for (int j = 0; j < kvHeads; j++) {
      split(wk, j * headDim, order[j], dr, wkRope, j * dr, wkNope, j * nope);
    }
    // SVD_joint of M = [W_k,nope ; W_v]; full rank, so U S Vᵀ reproduces M exactly in double
    double[][] m = new double[kvHeads * (nope + headDim)][];
    System.arraycopy(wkNope, 0, m, 0, wkNope.length);
    System.arraycopy(wv, 0, m, wkNope.length, wv.length);
    SingularValueDecomposition svd = new SingularValueDecomposition(new Array2DRowRealMatrix(m));
    RealMatrix up = svd.getU().multiply(svd.getS()).getSubMatrix(0, m.length - 1, 0, latent - 1);
    double[][] down = svd.getVT().getSubMatrix(0, latent - 1, 0, d - 1).getData();
    double[][] wUk = up.getSubMatrix(0, wkNope.length - 1, 0, latent - 1).getData();
    double[][] wUv = up.getSubMatrix(wkNope.length, m.length - 1, 0, latent - 1).getData();

    try (Arena arena = Arena.ofShared()) {
      Tensor x = Inputs.gaussian(arena, c, DType.F32, ctx, d, 1);
      Tensor xq = x.rows(first, tokens);
      int[] positions = new int[ctx];
      java.util.Arrays.setAll(positions, i -> i);
      int[] queryPositions = java.util.Arrays.copyOfRange(positions, first, ctx);

      double[] ref = oracleMha(dev.mla4j.oracle.TensorReader.read(x), wq, wk, wv, kept[0],
          RopeOracle.defaultInvFreq(headDim, 1e4), d, heads, kvHeads, headDim, r, first);
      double floor = ErrorCheck.floor(DType.F32, d + headDim + ctx + 2L * latent);
      Tensor tWqRope = tensor(arena, wqRope);
      Tensor tWqNope = tensor(arena, wqNope);
      Tensor tWkRope = tensor(arena, wkRope);
      Tensor tWkNope = tensor(arena, wkNope);
      Tensor tWv = tensor(arena, wv);
      Tensor tDown = tensor(arena, down);
      Tensor tUk = tensor(arena, wUk);
      Tensor tUv = tensor(arena, wUv);

      Conformance.check("SVD_joint MHA baseline", c, 2, ref, floor, b -> {
        Tensor qRope = projectRoped(b, arena, xq, tWqRope, rope, queryPositions);
        Tensor qNope = project(b, arena, xq, tWqNope);
        Tensor kRope = projectRoped(b, arena, x, tWkRope, rope, positions);
        Tensor kNope = project(b, arena, x, tWkNope);
        Tensor v = project(b, arena, x, tWv);
        MhaShape shape = MhaShape.of(heads, kvHeads, headDim);
        Tensor q = Tensor.allocate(arena, DType.F32, tokens, heads * headDim);
        concatHeads(qRope, qNope, q, heads, dr, nope);
        Tensor k = Tensor.allocate(arena, DType.F32, ctx, kvHeads * headDim);
        concatHeads(kRope, kNope, k, kvHeads, dr, nope);
        try (KvCache cache = new KvCache(shape, 1, DType.F32, ctx)) {
          cache.append(0, k, v);
          Tensor out = Inputs.nanFilled(arena, DType.F32, tokens * heads, headDim);
          b.mhaAttention(shape, q.splitRows(headDim), cache, 0, first, out);
          return Inputs.floats(out);
        }
      });

      Conformance.check("SVD_joint MLA path", c, 2, ref, floor, b -> {
        Tensor qRope = projectRoped(b, arena, xq, tWqRope, rope, queryPositions);
        Tensor qNope = project(b, arena, xq, tWqNope);
        Tensor kRope = projectRoped(b, arena, x, tWkRope, rope, positions);
        Tensor lat = project(b, arena, x, tDown);
        MlaShape shape = MlaShape.mha2mla(heads, kvHeads, headDim, r, latent / kvHeads);
        return Inputs.written(arena, tokens, heads * headDim, out -> LayerPaths.absorbedMla(b,
            arena, shape, qRope, qNope, lat, kRope, tUk, tUv, first, out));
      });
    }
  }

  /** Head dims with the kept pairs first in compact HALF_SPLIT order, then the others ascending. */
  static int[] ropeFirstOrder(int[] kept, int pairs) {
    int r = kept.length;
    int[] order = new int[2 * pairs];
    boolean[] used = new boolean[2 * pairs];
    for (int m = 0; m < r; m++) {
      order[m] = kept[m];
      order[m + r] = kept[m] + pairs;
      used[kept[m]] = true;
      used[kept[m] + pairs] = true;
    }
    int k = 2 * r;
    for (int i = 0; i < 2 * pairs; i++) {
      if (!used[i]) {
        order[k++] = i;
      }
    }
    return order;
  }

  private static void split(double[][] w, int base, int[] order, int dr, double[][] rope,
      int ropeAt, double[][] nope, int nopeAt) {
    for (int i = 0; i < order.length; i++) {
      if (i < dr) {
        rope[ropeAt + i] = w[base + order[i]];
      } else {
        nope[nopeAt + i - dr] = w[base + order[i]];
      }
    }
  }

  /**
   * The unconverted layer in double, in original head-dim order: q = W_q x, k = W_k x,
   * v = W_v x, RoPE on the kept pairs of each head (its original dims i and i+F), causal MHA.
   */
  private static double[] oracleMha(double[] x, double[][] wq, double[][] wk, double[][] wv,
      int[][] kept, double[] invFreq, int d, int heads, int kvHeads, int headDim,
      int r, int first) {
    int ctx = x.length / d;
    int tokens = ctx - first;
    int group = heads / kvHeads;
    int pairs = headDim / 2;
    double[] q = LinearOracle.linear(java.util.Arrays.copyOfRange(x, first * d, ctx * d),
        flat(wq), tokens, d, heads * headDim);
    double[] k = LinearOracle.linear(x, flat(wk), ctx, d, kvHeads * headDim);
    double[] v = LinearOracle.linear(x, flat(wv), ctx, d, kvHeads * headDim);
    double[] pair = new double[2];
    for (int t = 0; t < tokens; t++) {
      for (int h = 0; h < heads; h++) {
        rotateKept(q, (t * heads + h) * headDim, kept[h / group], invFreq, first + t, pairs, pair);
      }
    }
    for (int t = 0; t < ctx; t++) {
      for (int j = 0; j < kvHeads; j++) {
        rotateKept(k, (t * kvHeads + j) * headDim, kept[j], invFreq, t, pairs, pair);
      }
    }
    return AttentionOracle.mha(q, k, v, heads, kvHeads, headDim, first, 1 / Math.sqrt(headDim));
  }

  /** Rotates pair (i, i+F) of one head for every kept i, leaving the other pairs alone. */
  private static void rotateKept(double[] v, int base, int[] kept, double[] invFreq, int pos,
      int pairs, double[] pair) {
    for (int i : kept) {
      pair[0] = v[base + i];
      pair[1] = v[base + i + pairs];
      RopeOracle.partial(pair, 0, new int[] {i}, invFreq, pos, 1, false);
      v[base + i] = pair[0];
      v[base + i + pairs] = pair[1];
    }
  }

  /** {@code dst[t][g·(dr+nope) ..] = [rope[t][g·dr ..] ; nope[t][g·nope ..]]} per head g. */
  private static void concatHeads(Tensor rope, Tensor nope, Tensor dst, int groups, int dr,
      int dn) {
    for (int t = 0; t < dst.rows(); t++) {
      for (int g = 0; g < groups; g++) {
        for (int i = 0; i < dr; i++) {
          dst.set(t, g * (dr + dn) + i, rope.get(t, g * dr + i));
        }
        for (int i = 0; i < dn; i++) {
          dst.set(t, g * (dr + dn) + dr + i, nope.get(t, g * dn + i));
        }
      }
    }
  }

  private static double[][] gaussian(Seeds.Case c, int rows, int cols) {
    double[][] w = new double[rows][cols];
    for (double[] row : w) {
      for (int i = 0; i < cols; i++) {
        row[i] = c.random().nextGaussian() / Math.sqrt(cols);
      }
    }
    return w;
  }

  private static double[] flat(double[][] w) {
    double[] out = new double[w.length * w[0].length];
    for (int i = 0; i < w.length; i++) {
      System.arraycopy(w[i], 0, out, i * w[i].length, w[i].length);
    }
    return out;
  }

  private static Tensor tensor(Arena arena, double[][] w) {
    float[] values = new float[w.length * w[0].length];
    for (int i = 0; i < w.length; i++) {
      for (int j = 0; j < w[i].length; j++) {
        values[i * w[i].length + j] = (float) w[i][j];
      }
    }
    return Tensor.copyOf(arena, DType.F32, w.length, w[0].length, values);
  }
}
