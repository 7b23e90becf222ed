package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The key-range split rule ({@link PagedAttention#blocksPerSplit}): pure arithmetic, no GPU. The
 * expected counts are worked out by hand for a 132-SM device (H100) and one resident MLA CTA per
 * SM.
 */
class SplitCountTest {
  private static final int SMS = 132;

  private static KernelChoice mla() {
    return new KernelChoice("mla", 32, 32, 256, 200_000, KernelChoice.MLA_CTAS_PER_SM, 1,
        KernelChoice.MLA_MAX_SPLITS_PER_SM, KernelChoice.MLA_RESIDENT_PER_SM);
  }

  private static int splits(KernelChoice c, long base, int keyBlocks) {
    int per = PagedAttention.blocksPerSplit(c, base, keyBlocks, SMS);
    return (keyBlocks + per - 1) / per;
  }

  @Test
  void batch64FillsOneWaveInsteadOfAThirdWave() {
    // 64 CTAs per split, modelled time waves x (blocks per CTA + 1): 2 splits = 128 CTAs in one
    // wave, 1 x 257; 4 splits 2 x 129; 5 splits (the old 2-per-SM target) 320 CTAs in three
    // waves, the last 42% full, 3 x 104
    assertEquals(2, splits(mla(), 64, 512));
    assertEquals(2, splits(mla(), 64, 64));
  }

  @Test
  void aGridJustUnderAWaveIsNotSplitForAPaperGain() {
    // DeepSeek at batch 64 (128 CTAs of 64-head slabs), 128K (2048 blocks): 36 splits model 35
    // waves x 58 = 2030 against 1 x 2049, under 1%, and cost 1.66x the cache bytes in DRAM reads
    assertEquals(1, splits(mla(), 128, 2048));
    // a third of the SMs idle is worth splitting: 88 CTAs, 2048 blocks
    assertTrue(splits(mla(), 88, 2048) > 1);
  }

  @Test
  void moreSplitsMustWinMoreThanTheModelsRoundingToBeTaken() {
    // batch 64 at 128K (2048 blocks): 2 splits model 1 x 1025, 35 splits 17 waves x 60 = 1020,
    // half a percent; on the H100 (Llama-2-7B d_kv 16, BF16) 2 splits ran 5757-5763 us, 41
    // forced splits 6097-6099
    assertEquals(2, splits(mla(), 64, 2048));
    // 64K: 2 splits (1 x 513) were already the best
    assertEquals(2, splits(mla(), 64, 1024));
  }

  @Test
  void batch128NeedsNoSplit() {
    // 1 x 513 against, e.g., 35 splits: 34 waves x 16
    assertEquals(1, splits(mla(), 128, 512));
  }

  @Test
  void aGridThatFillsTheGpuIsNotSplit() {
    // the MHA prefill kernel, 2 resident per SM: T = 512, 128 kv heads = 1024 CTAs; the model
    // alone would pick 9 splits (35 waves x 58 against 4 x 513)
    KernelChoice prefill = KernelChoice.mhaPrefill(dev.mla4j.tensor.DType.BF16, 128, 128);
    assertEquals(1, splits(prefill, 1024, 512));
    assertEquals(1, splits(prefill, 264, 512));
    // 256 CTAs (T = 512, 32 kv heads) leave 8 of 264 slots: still one split
    assertEquals(1, splits(prefill, 256, 512));
    // T = 64, 32 kv heads: 32 CTAs per split, 8 splits = 256 CTAs in one wave, 1 x 65
    assertEquals(8, splits(prefill, 32, 512));
  }

  @Test
  void batchOneSpreadsOverAllSmsButNotMore() {
    // at most one split per SM: 128 splits of 4 blocks, one wave x 5
    assertEquals(128, splits(mla(), 1, 512));
    // fewer key blocks than SMs: one block per split
    assertEquals(40, splits(mla(), 1, 40));
  }

  @Test
  void everySplitHasKeysAndTheSplitsCoverAllBlocks() {
    for (long base = 1; base <= 300; base += 7) {
      for (int blocks = 1; blocks <= 600; blocks += 13) {
        int per = PagedAttention.blocksPerSplit(mla(), base, blocks, SMS);
        int n = (blocks + per - 1) / per;
        assertTrue(per >= 1 && (long) n * per >= blocks && (long) (n - 1) * per < blocks,
            "base " + base + " blocks " + blocks + " per " + per);
      }
    }
  }

  @Test
  void withoutKnownResidencyTheCtaTargetRuleStays() {
    KernelChoice mha = new KernelChoice("mha", 1, 0, 128, 0, 16, 8, Integer.MAX_VALUE, 0);
    // target 16 x 132 = 2112 CTAs over 32 per split: 66 wanted, >= 8 blocks each
    assertEquals(64, splits(mha, 32, 512));
  }
}
