package dev.mla4j.conformance;

import dev.mla4j.oracle.RopeOracle;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.rope.PairLayout;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.rope.RopeFrequencies;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.Conformance;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.RopeCases;
import dev.mla4j.testing.RopeSets;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Partial RoPE of every backend vs the oracle, and full RoPE as the every-pair-kept case. */
@Tag("simd")
class RopeTest {
  static final int LAYERS = 3;
  static final double THETA = 1e4;

  /** kept pairs r around lane multiples, both layouts, every scaling, GQA groups. */
  static Stream<Arguments> sweep() {
    int[] rs = {1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64};
    int[][] groups = {{1, 1}, {3, 3}, {2, 4}, {4, 1}}; // {n_kv, g}: SmolLM is n_kv 3, g 3
    List<Arguments> cases = new ArrayList<>();
    int k = 0;
    for (PairLayout layout : PairLayout.values()) {
      for (RopeCases rc : RopeCases.values()) {
        for (int r : rs) {
          int[] g = groups[k % groups.length];
          int maxPos = k % 2 == 0 ? 40_000 : 100; // beyond every original context, and short
          boolean strided = k % 3 == 0;
          cases.add(Arguments.of(layout, rc, 128, r, g[0], g[1], maxPos, strided));
          k++;
        }
      }
    }
    cases.add(Arguments.of(PairLayout.HALF_SPLIT, RopeCases.DEFAULT, 64, 4, 3, 3, 2048, false));
    cases.add(Arguments.of(PairLayout.HALF_SPLIT, RopeCases.DEFAULT, 128, 8, 32, 1, 4096, false));
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} {1} d_h={2} r={3} n_kv={4} g={5} maxPos={6} strided={7}")
  @MethodSource("sweep")
  void partialRope(PairLayout layout, RopeCases rc, int headDim, int r, int kvHeads, int group,
      int maxPos, boolean strided) {
    Seeds.Case c = Seeds.forCase("rope " + layout + " " + rc + " " + headDim + " " + r + " "
        + kvHeads + " " + group + " " + maxPos);
    int heads = kvHeads * group;
    int tokens = 5;
    int dr = 2 * r;
    int[][][] kept = RopeSets.random(c, LAYERS, kvHeads, r, headDim / 2);
    PartialRope rope = new PartialRope(RopeFrequencies.of(headDim, THETA, rc.scaling), layout, kept);
    int layer = c.nextInt(LAYERS);
    int[] positions = new int[tokens];
    for (int t = 0; t < tokens; t++) {
      positions[t] = t == 0 ? maxPos : c.nextInt(maxPos + 1);
    }
    try (Arena arena = Arena.ofShared()) {
      Tensor x = strided ? Inputs.stridedGaussian(arena, c, DType.F32, tokens, heads * dr, 2, 3, 1)
          : Inputs.gaussian(arena, c, DType.F32, tokens, heads * dr, 1);
      double[] invFreq = rc.oracleInvFreq(headDim, THETA);
      double attention = rc.oracleAttentionFactor();
      double[] ref = TensorReader.read(x);
      double maxAngle = 0;
      for (int t = 0; t < tokens; t++) {
        for (int h = 0; h < heads; h++) {
          int[] s = kept[layer][h / group];
          RopeOracle.partial(ref, (t * heads + h) * dr, s, invFreq, positions[t], attention,
              layout == PairLayout.INTERLEAVED);
          maxAngle = Math.max(maxAngle, positions[t] * invFreq[s[0]]);
        }
      }
      Conformance.check("rope", c, 1, ref, ErrorCheck.ropeFloor(maxAngle), b -> {
        Tensor y = strided ? Inputs.stridedNan(arena, DType.F32, tokens, heads * dr, 1, 1)
            : Inputs.nanFilled(arena, DType.F32, tokens, heads * dr);
        copy(x, y);
        b.rope(y, positions, rope, layer);
        return Inputs.floats(y);
      });
    }
  }

  /** Every pair kept in ascending order, HALF_SPLIT, is the ordinary full-head RoPE. */
  @ParameterizedTest
  @EnumSource(RopeCases.class)
  void everyPairKeptIsFullRope(RopeCases rc) {
    for (int headDim : new int[] {64, 128}) {
      Seeds.Case c = Seeds.forCase("full rope " + rc + " " + headDim);
      int kvHeads = 2;
      int heads = 6;
      int tokens = 4;
      PartialRope rope = PartialRope.full(RopeFrequencies.of(headDim, THETA, rc.scaling),
          PairLayout.HALF_SPLIT, 1, kvHeads);
      int[] positions = {0, 1, 4095, 33_000};
      double[] invFreq = rc.oracleInvFreq(headDim, THETA);
      try (Arena arena = Arena.ofShared()) {
        Tensor x = Inputs.gaussian(arena, c, DType.F32, tokens, heads * headDim, 1);
        double[] in = TensorReader.read(x);
        double[] ref = new double[in.length];
        for (int t = 0; t < tokens; t++) {
          for (int h = 0; h < heads; h++) {
            int off = (t * heads + h) * headDim;
            double[] head = java.util.Arrays.copyOfRange(in, off, off + headDim);
            System.arraycopy(RopeOracle.fullHead(head, invFreq, positions[t],
                rc.oracleAttentionFactor()), 0, ref, off, headDim);
          }
        }
        Conformance.check("full rope", c, 1, ref, ErrorCheck.ropeFloor(33_000 * invFreq[0]),
            b -> {
              Tensor y = Inputs.nanFilled(arena, DType.F32, tokens, heads * headDim);
              copy(x, y);
              b.rope(y, positions, rope, 0);
              return Inputs.floats(y);
            });
      }
    }
  }

  private static void copy(Tensor from, Tensor to) {
    for (int i = 0; i < from.rows(); i++) {
      for (int j = 0; j < from.cols(); j++) {
        to.set(i, j, from.get(i, j));
      }
    }
  }
}
