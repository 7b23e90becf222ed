package dev.mla4j.convert;

import static dev.mla4j.testing.LayerPaths.project;
import static dev.mla4j.testing.LayerPaths.projectRoped;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.cache.KvCache;
import dev.mla4j.model.AttentionWeights;
import dev.mla4j.model.MlaAttentionWeights;
import dev.mla4j.rope.PairLayout;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.rope.RopeFrequencies;
import dev.mla4j.rope.RopeScaling;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.LayerPaths;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A layer converted by {@link MlaConverter} at full rank gives the same attention-layer outputs
 * (after W_o) through the library's MLA path as the original weights through its MHA path. With
 * r = F every pair is kept and the MHA side is literally the original layer with full RoPE; with
 * r < F the MHA side applies RoPE to the same pairs by a head-dim permutation built here (which
 * leaves every dot product unchanged).
 */
class ConvertedLayerEquivalenceTest {

  @ParameterizedTest(name = "d={0} n_h={1} n_kv={2} d_h={3} r={4} ctx={5} T={6} {7} {8}")
  @CsvSource({
      "96, 4, 4, 16, 8, 12, 4, UP, JOINT",
      "96, 4, 2, 16, 8, 9, 9, SQRT_BOTH, JOINT",
      "128, 6, 2, 16, 3, 20, 5, UP, JOINT",
      "128, 6, 2, 16, 3, 20, 5, SQRT_BOTH, SPLIT",
      "64, 4, 2, 16, 2, 10, 3, UP, NONE",
  })
  void fullRankConversionMatchesTheOriginalLayer(int d, int heads, int kvHeads, int headDim,
      int r, int ctx, int tokens, SigmaPlacement sigma, MlaConverter.SvdMethod method) {
    Seeds.Case c = Seeds.forCase("converted layer " + d + " " + heads + " " + kvHeads + " " + r + " " + method);
    int pairs = headDim / 2;
    int group = heads / kvHeads;
    int first = ctx - tokens;
    int[][] kept = new int[kvHeads][];
    for (int j = 0; j < kvHeads; j++) {
      kept[j] = randomPairs(c, pairs, r);
    }
    int nope = headDim - 2 * r;
    // full rank: joint L = n_kv·(d_nope + d_h); split (code width) n_kv·d_kv per side
    int dKv = method == MlaConverter.SvdMethod.SPLIT ? headDim : nope + headDim;
    MlaConverter.Options o = MlaConverter.Options.joint(dKv).withSigma(sigma).withSvd(method)
        .withSplitWidth(MlaConverter.SplitWidth.CODE).withSolver(SvdSolver.EXACT);
    RopeFrequencies freq = RopeFrequencies.of(headDim, 1e4, RopeScaling.none());
    PartialRope rope = new PartialRope(freq, PairLayout.HALF_SPLIT, new int[][][] {kept});
    try (Arena arena = Arena.ofShared(); Backend b = Backends.create(2)) {
      AttentionWeights w = LowRankTest.randomLayer(arena, c, d, heads, kvHeads, headDim);
      Tensor x = Inputs.gaussian(arena, c, DType.F32, ctx, d, 1);
      int[] positions = new int[ctx];
      Arrays.setAll(positions, i -> i);
      double[] mha = mhaPath(b, arena, w, x, kept, rope, heads, kvHeads, headDim, first, positions);
      MlaAttentionWeights m = MlaConverter.convertLayer(b, heads, kvHeads, headDim, w, kept, o, null, arena);
      int latent = o.latentDim(kvHeads, headDim, r);
      double[] mla = mlaPath(b, arena, m, x, rope, heads, kvHeads, headDim, r, latent, first, positions);
      float[] got = new float[mla.length];
      for (int i = 0; i < got.length; i++) {
        got[i] = (float) mla[i];
      }
      double err = ErrorCheck.error(mha, got);
      double floor = 4 * ErrorCheck.floor(DType.F32, d + ctx + 2L * latent + (long) heads * headDim);
      assertTrue(err <= floor, c + " MLA vs MHA relative error " + err + " > " + floor);
      assertTrue(group >= 1);
    }
  }

  private static int[] randomPairs(Seeds.Case c, int pairs, int r) {
    int[] all = new int[pairs];
    Arrays.setAll(all, i -> i);
    for (int i = pairs - 1; i > 0; i--) {
      int j = c.nextInt(i + 1);
      int t = all[i];
      all[i] = all[j];
      all[j] = t;
    }
    int[] s = Arrays.copyOf(all, r);
    Arrays.sort(s);
    return s;
  }

  /** The original layer through the MHA path: RoPE on the kept pairs by a dim permutation. */
  private static double[] mhaPath(Backend b, Arena arena, AttentionWeights w, Tensor x,
      int[][] kept, PartialRope rope, int heads, int kvHeads, int headDim, int first,
      int[] positions) {
    int ctx = x.rows();
    int tokens = ctx - first;
    int group = heads / kvHeads;
    int dr = 2 * kept[0].length;
    Tensor q = project(b, arena, x.rows(first, tokens), w.wq());
    Tensor k = project(b, arena, x, w.wk());
    Tensor v = project(b, arena, x, w.wv());
    Tensor qp = permute(arena, q, kept, group, headDim);
    Tensor kp = permute(arena, k, kept, 1, headDim);
    rotateLeading(b, arena, qp, heads, headDim, dr, rope, Arrays.copyOfRange(positions, first, ctx));
    rotateLeading(b, arena, kp, kvHeads, headDim, dr, rope, positions);
    MhaShape shape = MhaShape.of(heads, kvHeads, headDim);
    try (KvCache cache = new KvCache(shape, 1, DType.F32, ctx)) {
      cache.append(0, kp, v);
      Tensor out = Tensor.allocate(arena, DType.F32, tokens * heads, headDim);
      b.mhaAttention(shape, qp.splitRows(headDim), cache, 0, first, out);
      Tensor y = project(b, arena, Tensor.of(out.data(), DType.F32, tokens, heads * headDim), w.wo());
      return toDoubles(y);
    }
  }

  /** The converted layer: latent cache, absorbed queries, per-head value up-projection, W_o. */
  private static double[] mlaPath(Backend b, Arena arena, MlaAttentionWeights m, Tensor x,
      PartialRope rope, int heads, int kvHeads, int headDim, int r, int latent, int first,
      int[] positions) {
    int ctx = x.rows();
    int tokens = ctx - first;
    Tensor xq = x.rows(first, tokens);
    Tensor qRope = projectRoped(b, arena, xq, m.wqRope(), rope,
        Arrays.copyOfRange(positions, first, ctx));
    Tensor qNope = project(b, arena, xq, m.wqNope());
    Tensor kRope = projectRoped(b, arena, x, m.wKr(), rope, positions);
    Tensor lat = project(b, arena, x, m.wDkv());
    MlaShape shape = MlaShape.mha2mla(heads, kvHeads, headDim, r, latent / kvHeads);
    Tensor out = Tensor.allocate(arena, DType.F32, tokens, heads * headDim);
    LayerPaths.absorbedMla(b, arena, shape, qRope, qNope, lat, kRope, m.wUk(), m.wUv(), first,
        out);
    return toDoubles(project(b, arena, out, m.wo()));
  }

  /** Per head: dims of the kept pairs (i then i+F, ascending i), then the other dims. */
  private static Tensor permute(Arena arena, Tensor y, int[][] kept, int group, int headDim) {
    int heads = y.cols() / headDim;
    int pairs = headDim / 2;
    Tensor out = Tensor.allocate(arena, DType.F32, y.rows(), y.cols());
    for (int h = 0; h < heads; h++) {
      int[] s = kept[h / group];
      int[] order = new int[headDim];
      int at = 0;
      for (int i : s) {
        order[at++] = i;
      }
      for (int i : s) {
        order[at++] = i + pairs;
      }
      for (int i = 0; i < headDim; i++) {
        int pair = i % pairs;
        if (Arrays.binarySearch(s, pair) < 0) {
          order[at++] = i;
        }
      }
      for (int t = 0; t < y.rows(); t++) {
        for (int i = 0; i < headDim; i++) {
          out.set(t, h * headDim + i, y.get(t, h * headDim + order[i]));
        }
      }
    }
    return out;
  }

  /** RoPE on the first d_r dims of every head of {@code y [T][heads·d_h]}, via a compact buffer. */
  private static void rotateLeading(Backend b, Arena arena, Tensor y, int heads, int headDim,
      int dr, PartialRope rope, int[] positions) {
    Tensor compact = Tensor.allocate(arena, DType.F32, y.rows(), heads * dr);
    for (int h = 0; h < heads; h++) {
      for (int t = 0; t < y.rows(); t++) {
        for (int i = 0; i < dr; i++) {
          compact.set(t, h * dr + i, y.get(t, h * headDim + i));
        }
      }
    }
    b.rope(compact, positions, rope, 0);
    for (int h = 0; h < heads; h++) {
      for (int t = 0; t < y.rows(); t++) {
        for (int i = 0; i < dr; i++) {
          y.set(t, h * headDim + i, compact.get(t, h * dr + i));
        }
      }
    }
  }

  private static double[] toDoubles(Tensor t) {
    float[] f = t.toFloatArray();
    double[] out = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = f[i];
    }
    return out;
  }
}
