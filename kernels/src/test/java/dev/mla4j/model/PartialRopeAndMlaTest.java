package dev.mla4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Partial RoPE in the MHA forward pass and the absorbed MLA forward pass, on the tiny reference
 * model, checked against each other through paths that share no attention code.
 */
class PartialRopeAndMlaTest {
  static final int TOKENS = 96;
  static LlamaWeights weights;
  static Backend backend;
  static int[] ids;

  @BeforeAll
  static void load() throws IOException {
    Path dir = SharedModels.require("models/tiny-code-mha");
    weights = LlamaWeights.load(dir);
    backend = Backends.create(2);
    ids = new int[TOKENS];
    byte[] text = "def forward(self, x):\n    return self.linear(x) + 1  # tiny model check\n"
        .repeat(3).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    for (int t = 0; t < TOKENS; t++) {
      ids[t] = text[t] & 0xff;
    }
  }

  @AfterAll
  static void close() {
    if (weights != null) {
      weights.close();
      backend.close();
    }
  }

  @Test
  void headOrderPutsKeptPairsFirstInHalfSplitOrder() {
    // d_h = 8, pairs (0,4) (1,5) (2,6) (3,7); keep pairs 1 and 3
    assertArrayEquals(new int[] {1, 3, 5, 7, 0, 2, 4, 6}, LlamaModel.headOrder(new int[] {1, 3}, 4));
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7},
        LlamaModel.headOrder(new int[] {0, 1, 2, 3}, 4));
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, LlamaModel.headOrder(new int[0], 4));
  }

  private static int[][][] kept(int r, int stride) {
    ModelConfig c = weights.config();
    int[][][] k = new int[c.layers()][c.kvHeads()][r];
    for (int l = 0; l < c.layers(); l++) {
      for (int j = 0; j < c.kvHeads(); j++) {
        for (int m = 0; m < r; m++) {
          k[l][j][m] = (m * stride + l + j) % (c.headDim() / 2);
        }
        Arrays.sort(k[l][j]);
      }
    }
    return k;
  }

  private static float[] logits(DecoderModel m) {
    try (m) {
      return m.forward(ids).toFloatArray();
    }
  }

  static double relative(float[] ref, float[] y) {
    double diff = 0;
    double max = 0;
    for (int i = 0; i < ref.length; i++) {
      diff = Math.max(diff, Math.abs(ref[i] - y[i]));
      max = Math.max(max, Math.abs(ref[i]));
    }
    return diff / max;
  }

  @Test
  void keepingEveryPairThroughThePermutedPathEqualsFullRope() {
    int f = weights.config().headDim() / 2;
    int[][][] all = kept(f, 1);
    float[] full = logits(new LlamaModel(weights, backend, TOKENS));
    float[] permuted = logits(new LlamaModel(weights, backend, TOKENS, DType.F32, all));
    double e = relative(full, permuted);
    assertTrue(e <= ReferenceLogitsTest.TOLERANCE, "error " + e);
  }

  /**
   * A full-rank MLA conversion: W_dkv stacks each kv head's NoPE key rows and then V, W_uk and
   * W_uv select them again. Absorbed MLA must then equal the partial-RoPE MHA model.
   */
  @Test
  void fullRankMlaEqualsPartialRopeMha() {
    int r = 4;
    int[][][] kept = kept(r, 7);
    float[] mha = logits(new LlamaModel(weights, backend, TOKENS, DType.F32, kept));
    float[] full = logits(new LlamaModel(weights, backend, TOKENS));
    Arena arena = Arena.ofShared();
    try {
      MlaAttentionWeights[] layers = new MlaAttentionWeights[weights.config().layers()];
      for (int l = 0; l < layers.length; l++) {
        layers[l] = fullRank(arena, weights.layer(l).attention(), kept[l]);
      }
      float[] mla = logits(new MlaModel(weights, layers, backend, TOKENS, DType.F32));
      double e = relative(mha, mla);
      double changed = relative(full, mha);
      System.out.println("full-rank MLA vs partial-RoPE MHA (r=" + r + "): " + e
          + "; partial vs full RoPE differ by " + changed);
      assertTrue(e <= ReferenceLogitsTest.TOLERANCE, "error " + e);
      assertTrue(changed > 100 * ReferenceLogitsTest.TOLERANCE, "r=4 should change the logits");
    } finally {
      arena.close();
    }
  }

  /** MLA decode one token at a time equals its prefill, with a BF16 latent cache too. */
  @Test
  void mlaDecodeEqualsPrefillAndBf16CacheStaysClose() {
    int n = 24;
    int[][][] kept = kept(2, 5);
    int[] prefix = Arrays.copyOf(ids, n);
    try (Arena arena = Arena.ofShared()) {
      MlaAttentionWeights[] layers = new MlaAttentionWeights[weights.config().layers()];
      for (int l = 0; l < layers.length; l++) {
        layers[l] = fullRank(arena, weights.layer(l).attention(), kept[l]);
      }
      try (MlaModel prefill = new MlaModel(weights, layers, backend, n, DType.F32);
          MlaModel decode = new MlaModel(weights, layers, backend, n, DType.F32);
          MlaModel bf16 = new MlaModel(weights, layers, backend, n, DType.BF16)) {
        float[] all = prefill.forward(prefix).toFloatArray();
        float[] steps = new float[all.length];
        int vocab = weights.config().vocabSize();
        for (int t = 0; t < n; t++) {
          System.arraycopy(decode.forward(new int[] {prefix[t]}).toFloatArray(), 0, steps,
              t * vocab, vocab);
        }
        double e = relative(all, steps);
        double eb = relative(all, bf16.forward(prefix).toFloatArray());
        System.out.println("MLA decode vs prefill " + e + "; BF16 latent cache vs F32 " + eb);
        assertTrue(e <= ReferenceLogitsTest.TOLERANCE, "decode error " + e);
        // one BF16 rounding (2^-8 relative) of every cached element, averaged over ~L terms
        assertTrue(eb > 0 && eb <= 0.05, "BF16 cache error " + eb);
      }
    }
  }

  private static MlaAttentionWeights fullRank(Arena arena, AttentionWeights a, int[][] kept) {
    ModelConfig c = weights.config();
    int dh = c.headDim();
    int dr = 2 * kept[0].length;
    int nope = dh - dr;
    int kv = c.kvHeads();
    int d = c.hiddenSize();
    int latent = kv * (nope + dh);
    int[] qRope = new int[c.heads() * dr];
    int[] qNope = new int[c.heads() * nope];
    int[] kRope = new int[kv * dr];
    int[] down = new int[latent];
    for (int h = 0; h < c.heads(); h++) {
      int[] order = LlamaModel.headOrder(kept[h / c.groupSize()], dh / 2);
      for (int i = 0; i < dh; i++) {
        if (i < dr) {
          qRope[h * dr + i] = h * dh + order[i];
        } else {
          qNope[h * nope + i - dr] = h * dh + order[i];
        }
      }
    }
    for (int j = 0; j < kv; j++) {
      int[] order = LlamaModel.headOrder(kept[j], dh / 2);
      for (int i = 0; i < dh; i++) {
        if (i < dr) {
          kRope[j * dr + i] = j * dh + order[i];
        } else {
          down[j * nope + i - dr] = j * dh + order[i];
        }
      }
    }
    Tensor wDkv = Tensor.allocate(arena, DType.F32, latent, d);
    Tensor wk = Ops.gatherRows(arena, a.wk(), Arrays.copyOf(down, kv * nope));
    for (int i = 0; i < kv * nope; i++) {
      for (int col = 0; col < d; col++) {
        wDkv.set(i, col, wk.get(i, col));
      }
    }
    for (int i = 0; i < kv * dh; i++) {
      for (int col = 0; col < d; col++) {
        wDkv.set(kv * nope + i, col, a.wv().get(i, col));
      }
    }
    Tensor wUk = Tensor.allocate(arena, DType.F32, kv * nope, latent);
    for (int i = 0; i < kv * nope; i++) {
      wUk.set(i, i, 1f);
    }
    Tensor wUv = Tensor.allocate(arena, DType.F32, kv * dh, latent);
    for (int i = 0; i < kv * dh; i++) {
      wUv.set(i, kv * nope + i, 1f);
    }
    return new MlaAttentionWeights(kept, Ops.gatherRows(arena, a.wq(), qRope), null,
        Ops.gatherRows(arena, a.wq(), qNope), null, Ops.gatherRows(arena, a.wk(), kRope), null,
        wDkv, wUk, null, wUv, null, a.wo());
  }
}
