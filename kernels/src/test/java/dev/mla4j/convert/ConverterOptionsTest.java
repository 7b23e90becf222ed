package dev.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.model.AttentionWeights;
import dev.mla4j.model.MlaAttentionWeights;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/** MlaConverter's options end to end: latent widths, activation-aware through InputMoments, errors. */
class ConverterOptionsTest {
  private static final int D = 48;
  private static final int HEADS = 4;
  private static final int KV = 2;
  private static final int HEAD_DIM = 16;
  private static final int[][] KEPT = {{0, 3}, {2, 5}};

  @Test
  void latentWidthsFollowTheMethod() {
    Seeds.Case c = Seeds.forCase("converter widths");
    try (Arena arena = Arena.ofShared(); Backend b = Backends.create(2)) {
      AttentionWeights w = LowRankTest.randomLayer(arena, c, D, HEADS, KV, HEAD_DIM);
      MlaConverter.Options joint = MlaConverter.Options.joint(8);
      assertEquals(16, convert(b, w, joint, null, arena).wDkv().rows());
      // paper split: n_kv·d_kv/2 per side; code split: n_kv·d_kv per side
      assertEquals(16, convert(b, w, joint.withSvd(MlaConverter.SvdMethod.SPLIT), null, arena).wDkv().rows());
      MlaAttentionWeights code = convert(b, w, joint.withSvd(MlaConverter.SvdMethod.SPLIT)
          .withSplitWidth(MlaConverter.SplitWidth.CODE), null, arena);
      assertEquals(32, code.wDkv().rows());
      assertEquals(32, code.wUk().cols());
      // BF16 storage when asked
      assertEquals(DType.BF16, convert(b, w, joint.withWeights(DType.BF16), null, arena).wUv().dtype());
      assertThrows(IllegalArgumentException.class, () -> convert(b, w, MlaConverter.Options.joint(40), null, arena));
      assertThrows(IllegalArgumentException.class, () -> convert(b, w, joint.withActivationAware(true), null, arena));
    }
  }

  @Test
  void activationAwareJointHasLowerOutputErrorThanWeightOnly() {
    Seeds.Case c = Seeds.forCase("converter activation aware");
    int tokens = 300;
    try (Arena arena = Arena.ofShared(); Backend b = Backends.create(2)) {
      AttentionWeights w = LowRankTest.randomLayer(arena, c, D, HEADS, KV, HEAD_DIM);
      // anisotropic calibration inputs: feature i scaled by 30^(-i/D)
      double[][] x = LowRankTest.gaussian(c, tokens, D);
      Tensor tx = Tensor.allocate(arena, DType.F32, tokens, D);
      for (int t = 0; t < tokens; t++) {
        for (int i = 0; i < D; i++) {
          x[t][i] *= Math.pow(30, -(double) i / D) * Math.sqrt(D);
          tx.set(t, i, (float) x[t][i]);
        }
      }
      InputMoments moments = new InputMoments(b, 1, D);
      moments.onAttentionInput(0, tx.rows(0, 100));
      moments.onAttentionInput(0, tx.rows(100, 200));
      MlaConverter.Options o = MlaConverter.Options.joint(6);
      MlaAttentionWeights plain = convert(b, w, o, null, arena);
      MlaAttentionWeights aware = convert(b, w, o.withAware(ActivationAwareOptions.DEFAULT.withObjective(AwareObjective.KV)), moments.layer(0), arena);
      double plainErr = outputError(w, plain, x);
      double awareErr = outputError(w, aware, x);
      assertTrue(awareErr < 0.9 * plainErr, c + " activation-aware " + awareErr + " vs weight-only " + plainErr);
    }
  }

  private static MlaAttentionWeights convert(Backend b, AttentionWeights w, MlaConverter.Options o,
      InputMoments.Layer moments, Arena arena) {
    return MlaConverter.convertLayer(b, HEADS, KV, HEAD_DIM, w, KEPT, o, moments, arena);
  }

  /** Mean over tokens of ‖W_v x - W_uv W_dkv x‖² (the values; keys follow the same factorization). */
  private static double outputError(AttentionWeights w, MlaAttentionWeights m, double[][] x) {
    double[][] wv = Dense.toDouble(w.wv());
    double[][] approx = LowRankTest.multiply(Dense.toDouble(m.wUv()), Dense.toDouble(m.wDkv()));
    double sum = 0;
    for (double[] xt : x) {
      for (int o = 0; o < wv.length; o++) {
        double e = 0;
        for (int i = 0; i < xt.length; i++) {
          e += (wv[o][i] - approx[o][i]) * xt[i];
        }
        sum += e * e;
      }
    }
    return sum / x.length;
  }
}
