package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * When the MLA tensor-core plan takes the widest head slab (16-token tiles) instead of the default
 * smaller slab of 32-token tiles (PagedAttention.widerSlab): pure selection logic, no GPU. Shapes
 * are Llama-2-7B's MHA2MLA ones (32 heads, per-head rope keys of d_r 16) on an H100's 132 SMs and
 * 227 KB of shared memory per block.
 */
class WideSlabChoiceTest {
  private static final int H100_SHARED = 232_448;
  private static final int H100_SMS = 132;
  private static final int HEADS = 32;

  private static KernelChoice bf16(int latent, boolean widest) {
    return KernelChoice.mlaMma(DType.BF16, HEADS, 1, latent, latent, 16, 16, 512, H100_SHARED,
        widest);
  }

  private static KernelChoice int8(int latent, boolean widest) {
    return KernelChoice.mlaMmaQuantized(new QuantizedLayout(Quantization.INT8, 1, latent, 64),
        DType.BF16, null, HEADS, 1, 16, 16, 512, H100_SHARED, widest);
  }

  @Test
  void dkv32HasTwoSlabs() {
    assertEquals("mla4j_mla_mma_bf16_m1_l16_t32", bf16(1024, false).kernel());
    assertEquals("mla4j_mla_mma_bf16_m2_l16_t16", bf16(1024, true).kernel());
    assertEquals("mla4j_mla_mma_int8_m1_l16_t32", int8(1024, false).kernel());
    assertEquals("mla4j_mla_mma_int8_m2_l16_t16", int8(1024, true).kernel());
  }

  /**
   * Batch, context, then the heads per CTA taken for BF16 and for INT8: the widest slab where its
   * CTAs walk at least 16 key blocks (8 over a quantized latent).
   */
  @ParameterizedTest
  @CsvSource({
      "64, 32768, 32, 32",   // 2 splits of 256 blocks
      "4, 32768, 32, 32",    // 32 splits of 16 blocks
      "1, 131072, 32, 32",   // 128 splits of 16 blocks
      "2, 32768, 16, 32",    // 64 splits of 8 blocks
      "16, 4096, 16, 32",    // 8 splits of 8 blocks
      "1, 32768, 16, 16",    // 128 splits of 4 blocks
      "1, 4096, 16, 16"})    // 64 splits of 1 block
  void widestSlabWhereEachCtaWalksEnoughBlocks(int batch, int context, int bf16Heads,
      int int8Heads) {
    KernelChoice b = PagedAttention.widerSlab(widest -> bf16(1024, widest),
        PagedAttention.WIDE_SLAB_MIN_BLOCKS, batch, HEADS, context, H100_SMS);
    assertEquals(bf16Heads, b.headsPerCta(), b.kernel());
    KernelChoice q = PagedAttention.widerSlab(widest -> int8(1024, widest),
        PagedAttention.WIDE_SLAB_MIN_BLOCKS_QUANTIZED, batch, HEADS, context, H100_SMS);
    assertEquals(int8Heads, q.headsPerCta(), q.kernel());
  }

  @ParameterizedTest
  @CsvSource({"512", "2048"})
  void shapesWithOneSlabKeepIt(int latent) {
    // d_kv 16: all 32 heads with 32-token tiles already; d_kv 64: O of 32 heads overflows registers
    KernelChoice base = bf16(latent, false);
    assertEquals(base.kernel(), bf16(latent, true).kernel());
    assertSame(base, PagedAttention.widerSlab(widest -> widest ? bf16(latent, true) : base,
        PagedAttention.WIDE_SLAB_MIN_BLOCKS, 64, HEADS, 32768, H100_SMS));
  }

  @Test
  void noWidestChoiceKeepsTheDefault() {
    KernelChoice base = bf16(1024, false);
    assertSame(base, PagedAttention.widerSlab(widest -> widest ? null : base,
        PagedAttention.WIDE_SLAB_MIN_BLOCKS, 64, HEADS, 32768, H100_SMS));
  }
}
