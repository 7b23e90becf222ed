package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Which MLA kernels combine a cluster's key-range splits on chip (native/mla_mma.cu,
 * mla_cluster_stage): pure selection logic, no GPU. The combine writes O, [HS][L + 8] floats, over
 * the dead Q~, tiles and scores, so it needs that much shared memory below the kernel's m, l and
 * alpha rows; the instances with MT·LW·TK above 1024 are compiled without it.
 */
class ClusterChoiceTest {
  private static final int H100_SHARED = 232_448;

  /** The Llama-2-7B MHA2MLA shapes (32 heads, per-head rope keys of d_r 16): HS and TK as chosen. */
  @ParameterizedTest
  @CsvSource({"16,32,32", "32,16,32", "64,16,16"})
  void llamaShapesCombine(int dKv, int headsPerCta, int tileTokens) {
    int latent = 32 * dKv;
    KernelChoice c = KernelChoice.mlaMma(DType.BF16, 32, 1, latent, latent, 16, 16, 512,
        H100_SHARED, false);
    assertEquals(headsPerCta, c.headsPerCta(), c.kernel());
    assertEquals(tileTokens, c.tileTokens(), c.kernel());
    assertTrue(c.combinesInCluster(latent), c.kernel());
    // [HS][L + 8] floats fit below the 3·HS floats at the end of the carve-up
    assertTrue(4L * headsPerCta * (latent + 8) <= c.sharedBytes() - 12L * headsPerCta);
  }

  @Test
  void otherKernelsDoNot() {
    KernelChoice quant = KernelChoice.mlaMmaQuantized(
        new QuantizedLayout(Quantization.FP8, 1, 512, 64), DType.BF16, null, 32, 1, 16, 16, 512,
        H100_SHARED, false);
    assertFalse(quant.combinesInCluster(512), quant.kernel());
    KernelChoice wgmma = KernelChoice.mlaWgmma(true, DType.BF16, 128, 512, 512, 64, 0, 64,
        H100_SHARED);
    assertFalse(wgmma.combinesInCluster(512), wgmma.kernel());
    assertFalse(KernelChoice.mha(DType.BF16, 128, 1).combinesInCluster(128));
  }

  @Test
  void clusterSizesOtherThanOneTwoFourEightAreRefused() {
    for (int ok : new int[] {1, 2, 4, 8}) {
      PagedAttention.checkMaxCluster(ok);
    }
    for (int bad : new int[] {0, 3, 6, 16, -2}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> PagedAttention.checkMaxCluster(bad));
      assertTrue(e.getMessage().contains(PagedAttention.CLUSTER_PROPERTY), e.getMessage());
    }
  }

  @Test
  void instancesWithoutTheCombineDoNot() {
    // 64 heads, L 512, no rope: m4_l8_t64 fits in 227 KB but MT·LW·TK = 2048
    KernelChoice big = KernelChoice.mlaMma(DType.BF16, 64, 1, 512, 512, 0, 0, 0, H100_SHARED,
        false);
    assertEquals("mla4j_mla_mma_bf16_m4_l8_t64", big.kernel());
    assertFalse(big.combinesInCluster(512));
    // 16 heads, L 512, no rope: m1_l8_t64, MT·LW·TK = 512, O of 16 x 520 floats fits
    KernelChoice small = KernelChoice.mlaMma(DType.BF16, 16, 1, 512, 512, 0, 0, 0, H100_SHARED,
        false);
    assertEquals("mla4j_mla_mma_bf16_m1_l8_t64", small.kernel());
    assertTrue(small.combinesInCluster(512));
  }
}
