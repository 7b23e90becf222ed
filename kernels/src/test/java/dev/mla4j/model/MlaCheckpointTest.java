package dev.mla4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.convert.MlaConverter;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.ErrorCheck;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A converted tiny-code-mha saved as an MLA checkpoint, or exported in the reference MHA2MLA
 * layout, and loaded back computes the same logits as the in-memory conversion; bad checkpoint
 * folders are refused with the reason.
 */
class MlaCheckpointTest {
  private static final int TOKENS = 24;

  @Test
  void saveThenLoadGivesTheSameModel(@TempDir Path dir) throws Exception {
    Path source = SharedModels.require("models/tiny-code-mha");
    Path out = dir.resolve("mla");
    Path reference = dir.resolve("reference-layout");
    int[] tokens = new int[TOKENS];
    for (int t = 0; t < TOKENS; t++) {
      tokens[t] = "def main(args):\n    return".charAt(t);
    }
    float[] before;
    try (Backend b = Backends.create(2); LlamaWeights w = LlamaWeights.load(source);
        Arena arena = Arena.ofShared()) {
      ModelConfig c = w.config();
      // a different kept set per (layer, kv head), so the files must carry each one
      int[][][] kept = new int[c.layers()][c.kvHeads()][];
      for (int l = 0; l < c.layers(); l++) {
        for (int j = 0; j < c.kvHeads(); j++) {
          kept[l][j] = new int[] {(l + j) % 8, 10 + j, 20 + l, 31};
        }
      }
      MlaAttentionWeights[] layers = MlaConverter.convertModel(b, c,
          l -> w.layer(l).attention(), kept, MlaConverter.Options.joint(8).withWeights(DType.BF16),
          null, l -> { }, arena);
      try (MlaModel m = new MlaModel(w, layers, b, TOKENS, DType.F32)) {
        before = m.forward(tokens).toFloatArray();
      }
      MlaCheckpoint.save(out, w, new MlaConfig(c, 4, 8, "high", "joint", "up"), layers, "weights");
      ReferenceLayout.export(reference, w, new MlaConfig(c, 4, 8, "high", "joint", "up"), layers);
      var split = assertThrows(IllegalArgumentException.class, () -> ReferenceLayout.export(
          dir.resolve("split"), w, new MlaConfig(c, 4, 8, "high", "split", "up"), layers));
      assertTrue(split.getMessage().contains("svd=split"), split.getMessage());
      var refused = assertThrows(IllegalArgumentException.class, () -> MlaCheckpoint.save(source,
          w, new MlaConfig(c, 4, 8, "high", "joint", "up"), layers, "weights"));
      assertTrue(refused.getMessage().contains("source"), refused.getMessage());
    }
    assertTrue(MlaCheckpoint.isMlaCheckpoint(out));
    try (Backend b = Backends.create(2); MlaCheckpoint ck = MlaCheckpoint.load(out);
        MlaModel m = new MlaModel(ck.base(), ck.layers(), b, TOKENS, DType.F32)) {
      assertEquals(8, ck.config().dKv());
      assertArrayEquals(new int[] {(3 + 2) % 8, 12, 23, 31}, ck.layers()[3].keptPairs()[2]);
      // same weights bit for bit; only the summation order of SIMD tails may differ (the mapped
      // file and the in-memory tensors sit at different alignments)
      double error = ErrorCheck.error(TensorReader.widen(before), m.forward(tokens).toFloatArray());
      assertTrue(error < 1e-6, "logits after a save/load round trip differ by " + error);
      try (MlaCheckpoint ref = ReferenceLayout.load(reference);
          MlaModel fromReference = new MlaModel(ref.base(), ref.layers(), b, TOKENS, DType.F32)) {
        double refError = ErrorCheck.error(TensorReader.widen(before),
            fromReference.forward(tokens).toFloatArray());
        assertTrue(refError < 1e-6, "logits after export to the reference layout and back differ"
            + " by " + refError);
        for (int l = 0; l < ck.layers().length; l++) {
          assertArrayEquals(ck.layers()[l].keptPairs(), ref.layers()[l].keptPairs(), "layer " + l);
        }
      }
      var noAttention = assertThrows(IllegalArgumentException.class,
          () -> new LlamaModel(ck.base(), b, TOKENS));
      assertTrue(noAttention.getMessage().contains("MlaCheckpoint"), noAttention.getMessage());
    }
  }

  @Test
  void aValueBiasOnAModelWithoutBiasesIsSavedLoadedAndRefusedByTheReferenceExport(@TempDir Path dir)
      throws Exception {
    Path source = SharedModels.require("models/tiny-code-mha");
    try (Backend b = Backends.create(2); LlamaWeights w = LlamaWeights.load(source);
        Arena arena = Arena.ofShared()) {
      ModelConfig c = w.config();
      int[][][] kept = new int[c.layers()][c.kvHeads()][];
      for (int[][] layer : kept) {
        java.util.Arrays.fill(layer, new int[] {0, 1, 2, 3});
      }
      MlaAttentionWeights[] plain = MlaConverter.convertModel(b, c, l -> w.layer(l).attention(),
          kept, MlaConverter.Options.joint(8), null, l -> { }, arena);
      MlaAttentionWeights[] biased = new MlaAttentionWeights[plain.length];
      for (int l = 0; l < plain.length; l++) {
        MlaAttentionWeights a = plain[l];
        Tensor bias = Tensor.allocate(arena, DType.F32, 1, c.kvHeads() * c.headDim());
        for (int i = 0; i < bias.cols(); i++) {
          bias.set(0, i, 0.01f * (i - l));
        }
        biased[l] = new MlaAttentionWeights(a.keptPairs(), a.wqRope(), a.bqRope(), a.wqNope(),
            a.bqNope(), a.wKr(), a.bKr(), a.wDkv(), a.wUk(), a.bUk(), a.wUv(), bias, a.wo());
      }
      MlaConfig config = new MlaConfig(c, 4, 8, "2-norm", "joint", "up");
      MlaCheckpoint.save(dir.resolve("mla"), w, config, biased, "attention");
      var refused = assertThrows(IllegalArgumentException.class,
          () -> ReferenceLayout.export(dir.resolve("reference"), w, config, biased));
      assertTrue(refused.getMessage().contains("value bias"), refused.getMessage());
      assertFalse(Files.exists(dir.resolve("reference")), "nothing written for a refused export");
      try (MlaCheckpoint ck = MlaCheckpoint.load(dir.resolve("mla"))) {
        assertEquals("attention", ck.lowRankObjective());
        for (int l = 0; l < c.layers(); l++) {
          assertArrayEquals(biased[l].bUv().toFloatArray(), ck.layers()[l].bUv().toFloatArray());
        }
      }
    }
  }

  @Test
  void badConfigsNameTheProblem(@TempDir Path dir) throws Exception {
    Path folder = dir.resolve("bad");
    Files.createDirectories(folder);
    Files.writeString(folder.resolve(MlaCheckpoint.CONFIG), "{\"format\": \"other\"}");
    var format = assertThrows(IllegalArgumentException.class, () -> MlaCheckpoint.load(folder));
    assertTrue(format.getMessage().contains("format"), format.getMessage());
    Files.writeString(folder.resolve(MlaCheckpoint.CONFIG), "{\"format\": \"mla4j-mha2mla\", ");
    var json = assertThrows(java.io.IOException.class, () -> MlaCheckpoint.load(folder));
    assertTrue(json.getMessage().contains(MlaCheckpoint.CONFIG), json.getMessage());
  }
}
