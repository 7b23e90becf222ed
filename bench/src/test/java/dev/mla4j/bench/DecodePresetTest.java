package dev.mla4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.tensor.DType;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The presets against the numbers of spec 5.3 and 8.1, typed in from the spec. */
class DecodePresetTest {
  /** name → {layers, n_h, n_kv, d_h, r, d_kv, L} from the table of spec 5.3. */
  private static final Map<String, int[]> SPEC = Map.ofEntries(
      Map.entry("SMOLLM_135M_DKV32", new int[] {30, 9, 3, 64, 4, 32, 96}),
      Map.entry("SMOLLM_135M_DKV16", new int[] {30, 9, 3, 64, 4, 16, 48}),
      Map.entry("SMOLLM_135M_DKV8", new int[] {30, 9, 3, 64, 4, 8, 24}),
      Map.entry("SMOLLM_360M_DKV32", new int[] {32, 15, 5, 64, 4, 32, 160}),
      Map.entry("SMOLLM_360M_DKV16", new int[] {32, 15, 5, 64, 4, 16, 80}),
      Map.entry("SMOLLM_360M_DKV8", new int[] {32, 15, 5, 64, 4, 8, 40}),
      Map.entry("SMOLLM_1_7B_DKV32", new int[] {24, 32, 32, 64, 4, 32, 1024}),
      Map.entry("SMOLLM_1_7B_DKV16", new int[] {24, 32, 32, 64, 4, 16, 512}),
      Map.entry("SMOLLM_1_7B_DKV8", new int[] {24, 32, 32, 64, 4, 8, 256}),
      Map.entry("LLAMA2_7B_DKV64", new int[] {32, 32, 32, 128, 8, 64, 2048}),
      Map.entry("LLAMA2_7B_DKV32", new int[] {32, 32, 32, 128, 8, 32, 1024}),
      Map.entry("LLAMA2_7B_DKV16", new int[] {32, 32, 32, 128, 8, 16, 512}));

  @Test
  void mha2mlaPresetsMatchSpecTable() {
    SPEC.forEach((name, v) -> {
      DecodePreset p = DecodePreset.valueOf(name);
      assertEquals(v[0], p.layers(), name + " layers");
      assertEquals(v[1], p.mla().heads(), name + " n_h");
      assertEquals(v[1], p.mha().heads(), name + " MHA n_h");
      assertEquals(v[2], p.mla().kvHeads(), name + " n_kv");
      assertEquals(v[2], p.mha().kvHeads(), name + " MHA n_kv");
      assertEquals(v[3], p.mha().headDim(), name + " d_h");
      assertEquals(2 * v[4], p.mla().ropeDim(), name + " d_r = 2r");
      assertEquals(v[5], p.dKv(), name + " d_kv");
      assertEquals(v[6], p.mla().latentDim(), name + " L");
      assertEquals(RopeKeyLayout.PER_KV_HEAD, p.mla().ropeKeys(), name);
      assertEquals((float) (1 / Math.sqrt(v[3])), p.mla().softmaxScale(), name + " scale");
    });
  }

  @Test
  void deepSeekV2LiteIsSpec81() {
    DecodePreset p = DecodePreset.DEEPSEEK_V2_LITE;
    assertEquals(27, p.layers());
    assertEquals(16, p.mla().heads());
    assertEquals(512, p.mla().latentDim());
    assertEquals(64, p.mla().ropeDim());
    assertEquals(RopeKeyLayout.SHARED, p.mla().ropeKeys());
    assertEquals(576, p.mla().cacheElementsPerToken());
    assertEquals((float) (1 / Math.sqrt(128 + 64)), p.mla().softmaxScale());
  }

  @Test
  void unknownPresetNamesTheValidOnes() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> DecodePreset.named("LLAMA3_8B"));
    assertTrue(e.getMessage().contains("LLAMA3_8B") && e.getMessage().contains("LLAMA2_7B_DKV16"),
        e.getMessage());
  }

  @Test
  void prefillCostCountsCausalScores() {
    // N = 4, T = 2: the query at position 2 scores 3 tokens, the one at 3 scores 4: 7 in all
    DecodePreset p = DecodePreset.SMOLLM_135M_DKV16;
    KernelCost mla = KernelCost.mlaPrefill(p.mla(), 4, 2, DType.BF16);
    assertEquals(2.0 * 9 * 7 * (8 + 2 * 48), mla.flops());
    assertEquals(4.0 * (24 + 48) * 2, mla.bytes());
    KernelCost mha = KernelCost.mhaPrefill(p.mha(), 4, 2, DType.BF16);
    assertEquals(4.0 * 9 * 7 * 64, mha.flops());
    assertEquals(4.0 * 2 * 3 * 64 * 2, mha.bytes());
  }
}
