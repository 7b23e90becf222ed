package dev.mla4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.projection.LatentProjection;
import dev.mla4j.rope.PairLayout;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.rope.RopeFrequencies;
import dev.mla4j.rope.RopeScaling;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.RopeSets;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/**
 * The README's usage example as a running program: a prefill then decode steps of one MHA2MLA
 * layer through the public API (projection, partial RoPE, cache, absorbed attention), checked
 * against the same layer computed the naive way (decompressed K/V through the MHA baseline).
 */
class ReadmeExampleTest {
  private static final int D = 96;
  private static final int HEADS = 6;
  private static final int KV_HEADS = 3;
  private static final int HEAD_DIM = 32;
  private static final int R = 4;
  private static final int D_KV = 12;

  @Test
  void absorbedStepsEqualNaiveSteps() {
    Seeds.Case c = Seeds.forCase("readme example");
    MlaShape shape = MlaShape.mha2mla(HEADS, KV_HEADS, HEAD_DIM, R, D_KV);
    int dr = 2 * R;
    int nope = HEAD_DIM - dr;
    int latentDim = shape.latentDim();
    MhaShape naiveShape = MhaShape.of(HEADS, KV_HEADS, HEAD_DIM);
    try (Arena arena = Arena.ofShared();
        Backend backend = Backends.create();
        LatentCache cache = new LatentCache(shape, 1, DType.BF16, 64);
        KvCache naiveCache = new KvCache(naiveShape, 1, DType.F32, 64)) {
      LatentProjection projection = new LatentProjection(shape, HEAD_DIM,
          Inputs.gaussian(arena, c, DType.BF16, latentDim, D, 1 / Math.sqrt(D)),
          Inputs.gaussian(arena, c, DType.BF16, KV_HEADS * dr, D, 1 / Math.sqrt(D)),
          Inputs.gaussian(arena, c, DType.BF16, KV_HEADS * nope, latentDim, 0.3),
          Inputs.gaussian(arena, c, DType.BF16, KV_HEADS * HEAD_DIM, latentDim, 0.3));
      PartialRope rope = new PartialRope(RopeFrequencies.of(HEAD_DIM, 10000, RopeScaling.none()),
          PairLayout.HALF_SPLIT, RopeSets.random(c, 1, KV_HEADS, R, HEAD_DIM / 2));
      int position = 0;
      for (int tokens : new int[] {5, 1, 1, 1}) { // a prefill, then three decode steps
        Tensor x = Inputs.gaussian(arena, c, DType.F32, tokens, D, 1);
        Tensor queryRope = Inputs.gaussian(arena, c, DType.F32, tokens * HEADS, dr, 1);
        Tensor queryNope = Inputs.gaussian(arena, c, DType.F32, tokens * HEADS, nope, 1);
        int[] positions = new int[tokens];
        for (int t = 0; t < tokens; t++) {
          positions[t] = position + t;
        }
        backend.rope(Tensor.of(queryRope.data(), DType.F32, tokens, HEADS * dr), positions, rope, 0);

        // the README's sequence
        Tensor latent = Tensor.allocate(arena, DType.F32, tokens, latentDim);
        Tensor ropeKeys = Tensor.allocate(arena, DType.F32, tokens, KV_HEADS * dr);
        projection.down(backend, x, latent, ropeKeys);
        backend.rope(ropeKeys, positions, rope, 0);
        roundToBf16(latent); // what the BF16 cache will hold, so both paths see the same values
        roundToBf16(ropeKeys);
        Tensor queryLatent = Tensor.allocate(arena, DType.F32, tokens * HEADS, latentDim);
        projection.absorbQuery(backend, queryNope, queryLatent);
        Tensor latentOut = Tensor.allocate(arena, DType.F32, tokens * HEADS, latentDim);
        backend.mlaPrefill(shape, queryRope, queryLatent, latent, ropeKeys, cache, 0, latentOut);
        Tensor headOut = Tensor.allocate(arena, DType.F32, tokens * HEADS, HEAD_DIM);
        projection.absorbOutput(backend, latentOut, headOut);

        // naive: keys [k_R ; W_uk c], values W_uv c, queries [q_R ; q_N], ordinary attention
        Tensor keysNope = Tensor.allocate(arena, DType.F32, tokens, KV_HEADS * nope);
        Tensor values = Tensor.allocate(arena, DType.F32, tokens, KV_HEADS * HEAD_DIM);
        projection.upKeys(backend, latent, keysNope);
        projection.upValues(backend, latent, values);
        Tensor keys = Tensor.allocate(arena, DType.F32, tokens, KV_HEADS * HEAD_DIM);
        Tensor query = Tensor.allocate(arena, DType.F32, tokens * HEADS, HEAD_DIM);
        for (int t = 0; t < tokens; t++) {
          for (int j = 0; j < KV_HEADS; j++) {
            for (int e = 0; e < dr; e++) {
              keys.set(t, j * HEAD_DIM + e, ropeKeys.get(t, j * dr + e));
            }
            for (int e = 0; e < nope; e++) {
              keys.set(t, j * HEAD_DIM + dr + e, keysNope.get(t, j * nope + e));
            }
          }
        }
        for (int i = 0; i < tokens * HEADS; i++) {
          for (int e = 0; e < dr; e++) {
            query.set(i, e, queryRope.get(i, e));
          }
          for (int e = 0; e < nope; e++) {
            query.set(i, dr + e, queryNope.get(i, e));
          }
        }
        Tensor naiveOut = Tensor.allocate(arena, DType.F32, tokens * HEADS, HEAD_DIM);
        backend.mhaPrefill(naiveShape, query, keys, values, naiveCache, 0, naiveOut);

        double error = ErrorCheck.error(TensorReader.read(naiveOut), headOut.toFloatArray());
        assertTrue(error < 1e-4, "step at position " + position + ": absorbed vs naive error "
            + error + " on " + backend.name() + " " + c);
        position += tokens;
      }
    }
  }

  private static void roundToBf16(Tensor t) {
    for (int i = 0; i < t.rows(); i++) {
      for (int j = 0; j < t.cols(); j++) {
        t.set(i, j, DType.BF16.round(t.get(i, j)));
      }
    }
  }
}
