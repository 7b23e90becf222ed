package dev.mla4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.mla4j.bench.DecodePreset;
import dev.mla4j.tensor.DType;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The report's cache sizes (bytes from the library's cache classes) against spec 5.1 and 5.3:
 * the paper's percentages come from the formula 1 − (2r + d_kv)/(2·d_h) with r = d_h/16,
 * evaluated here independently, and the BF16 bytes per token are typed in from the spec table.
 */
class CacheSizesTest {
  private static final CacheFormat BF16 = new CacheFormat.Plain(DType.BF16);

  /** {preset, d_h, d_kv, BF16 bytes/token all layers MHA, MLA} from spec 5.3. */
  private static final List<Object[]> SPEC = List.of(
      new Object[] {DecodePreset.SMOLLM_135M_DKV32, 64, 32, 23_040L, 7_200L},
      new Object[] {DecodePreset.SMOLLM_135M_DKV16, 64, 16, 23_040L, 4_320L},
      new Object[] {DecodePreset.SMOLLM_135M_DKV8, 64, 8, 23_040L, 2_880L},
      new Object[] {DecodePreset.SMOLLM_360M_DKV32, 64, 32, 40_960L, 12_800L},
      new Object[] {DecodePreset.SMOLLM_360M_DKV16, 64, 16, 40_960L, 7_680L},
      new Object[] {DecodePreset.SMOLLM_360M_DKV8, 64, 8, 40_960L, 5_120L},
      new Object[] {DecodePreset.SMOLLM_1_7B_DKV32, 64, 32, 196_608L, 61_440L},
      new Object[] {DecodePreset.SMOLLM_1_7B_DKV16, 64, 16, 196_608L, 36_864L},
      new Object[] {DecodePreset.SMOLLM_1_7B_DKV8, 64, 8, 196_608L, 24_576L},
      new Object[] {DecodePreset.LLAMA2_7B_DKV64, 128, 64, 524_288L, 163_840L},
      new Object[] {DecodePreset.LLAMA2_7B_DKV32, 128, 32, 524_288L, 98_304L},
      new Object[] {DecodePreset.LLAMA2_7B_DKV16, 128, 16, 524_288L, 65_536L});

  @Test
  void reproducesSpecBytesAndPaperReductions() {
    for (Object[] s : SPEC) {
      DecodePreset p = (DecodePreset) s[0];
      int dh = (int) s[1];
      int dKv = (int) s[2];
      CacheSizes.Row row = CacheSizes.compute(List.of(p), List.of(BF16)).get(0);
      assertEquals((long) s[3], row.mhaBytesPerToken(), p + " MHA bytes/token");
      assertEquals((long) s[4], row.mlaBytesPerToken(), p + " MLA bytes/token");
      int r = dh / 16;
      double formula = 1 - (2.0 * r + dKv) / (2.0 * dh);
      assertEquals(formula, row.reduction(), 1e-12, p + " reduction vs spec 5.1 formula");
    }
  }

  @Test
  void paperPercentagesPerDkvSetting() {
    // the paper's three settings are d_kv = d_h/2, d_h/4, d_h/8: −68.75%, −81.25%, −87.5%
    double[] paper = {0.6875, 0.8125, 0.875};
    for (int i = 0; i < SPEC.size(); i++) {
      DecodePreset p = (DecodePreset) SPEC.get(i)[0];
      double reduction = CacheSizes.compute(List.of(p), List.of(BF16)).get(0).reduction();
      assertEquals(paper[i % 3], reduction, 1e-12, p.toString());
    }
  }

  @Test
  void f32DoublesEveryByteButKeepsTheReduction() {
    CacheSizes.Row f32 = CacheSizes.compute(List.of(DecodePreset.LLAMA2_7B_DKV16),
        List.of(new CacheFormat.Plain(DType.F32))).get(0);
    assertEquals(131_072L, f32.mlaBytesPerToken());
    assertEquals(1_048_576L, f32.mhaBytesPerToken());
    assertEquals(0.875, f32.reduction(), 1e-12);
  }

  @Test
  void totalsAndTokensInBudget() {
    CacheSizes.Row row = CacheSizes.compute(List.of(DecodePreset.LLAMA2_7B_DKV16),
        List.of(BF16)).get(0);
    long gib16 = 16L << 30;
    assertEquals(16L << 30 >> 16, row.mlaTokensFitting(gib16)); // 2^34 / 2^16 = 262,144
    assertEquals(32_768L, row.mhaTokensFitting(gib16)); // 2^34 / 2^19
    assertEquals(4096L * 65_536, row.mlaBytes(4096));
    // DeepSeek-V2: 60 layers × 576 elements × 2 bytes = 69,120 B/token (spec 8.1)
    assertEquals(69_120L, CacheSizes.compute(List.of(DecodePreset.DEEPSEEK_V2), List.of(BF16))
        .get(0).mlaBytesPerToken());
  }
}
