package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.QuantizedLayout;
import org.junit.jupiter.api.Test;

/**
 * When the memory-bound MHA/GQA decode kernel reads quantized keys and values
 * (native/mha_decode.cu's int8/fp8/int4 instances): pure selection logic, no GPU. Each lane widens
 * 8 columns under one scale, so groups must divide d_h and hold whole lane chunks (INT4: whole
 * 8-byte nibble runs); K and V must share one layout of one segment per kv head. Everything else
 * falls back (null) to the generic kernel. With at most 2 heads per CTA and groups of 16 or more
 * a lane takes 16 columns (the _w16 instances).
 */
class QuantizedMhaChoiceTest {
  private static QuantizedLayout kv(Quantization q, int kvHeads, int headDim, int group) {
    return new QuantizedLayout(q, kvHeads, headDim, group);
  }

  @Test
  void eachFormatTakesItsInstanceWithThePlainKernelsHeadGrouping() {
    for (Quantization q : new Quantization[] {Quantization.INT8, Quantization.FP8,
        Quantization.INT4}) {
      String fmt = q.name().toLowerCase(java.util.Locale.ROOT);
      for (int group : new int[] {1, 4, 16}) {  // MHA, GQA 4, GQA 16 (8 heads per CTA)
        KernelChoice plain = KernelChoice.mha(dev.mla4j.tensor.DType.BF16, 128, group);
        KernelChoice c = KernelChoice.mhaQuantized(kv(q, 8, 128, 64), kv(q, 8, 128, 64), 8, 128,
            group);
        String lanes = plain.headsPerCta() <= 2 ? "_w16_" : "_";  // 16 columns a lane up to 2 heads
        assertEquals(plain.kernel().replace("_bf16_", "_" + fmt + lanes), c.kernel());
        assertEquals(plain.headsPerCta(), c.headsPerCta());
      }
      assertEquals("mla4j_mha_decode_" + fmt + "_w16_d64_g1",
          KernelChoice.mhaQuantized(kv(q, 4, 64, 32), kv(q, 4, 64, 32), 4, 64, 1).kernel());
      assertEquals("mla4j_mha_decode_" + fmt + "_w16_d128_g2",
          KernelChoice.mhaQuantized(kv(q, 4, 128, 16), kv(q, 4, 128, 16), 4, 128, 2).kernel());
      assertEquals("mla4j_mha_decode_" + fmt + "_d128_g4",
          KernelChoice.mhaQuantized(kv(q, 4, 128, 16), kv(q, 4, 128, 16), 4, 128, 4).kernel(),
          "4 heads per CTA keep 8-column lanes");
    }
  }

  @Test
  void gqaGroupsOfThreeShareACta() {
    assertEquals("mla4j_mha_decode_bf16_d64_g3",
        KernelChoice.mha(dev.mla4j.tensor.DType.BF16, 64, 3).kernel());
    assertEquals("mla4j_mha_decode_bf16_d128_g3",
        KernelChoice.mha(dev.mla4j.tensor.DType.BF16, 128, 6).kernel(), "6 heads: two CTAs of 3");
    for (Quantization q : new Quantization[] {Quantization.INT8, Quantization.FP8,
        Quantization.INT4}) {
      String fmt = q.name().toLowerCase(java.util.Locale.ROOT);
      assertEquals("mla4j_mha_decode_" + fmt + "_d64_g3",  // 8-column lanes at 3 heads
          KernelChoice.mhaQuantized(kv(q, 3, 64, 64), kv(q, 3, 64, 64), 3, 64, 3).kernel());
    }
  }

  @Test
  void aGroupSharesACtaWhereItsSplitGridStillFillsTheGpu() {
    // 132 SMs: the whole group needs 2 x CTAs x splits (8 blocks each) >= 396
    assertEquals(1, KernelChoice.mhaHeadsPerCta(3, 9, 64, 132), "SmolLM-135M, batch 1, 4K: 24");
    assertEquals(1, KernelChoice.mhaHeadsPerCta(3, 9, 512, 132), "batch 1, 32K: 192 CTAs");
    assertEquals(3, KernelChoice.mhaHeadsPerCta(3, 16 * 9, 64, 132), "batch 16, 4K: 384");
    assertEquals(1, KernelChoice.mhaHeadsPerCta(4, 32, 64, 132), "GQA 4, batch 1, 4K: 64");
    assertEquals(4, KernelChoice.mhaHeadsPerCta(4, 32, 512, 132), "GQA 4, batch 1, 32K: 512");
    assertEquals(8, KernelChoice.mhaHeadsPerCta(8, 32, 512, 132), "GQA 8, batch 1, 32K: 256");
    assertEquals(6, KernelChoice.mhaHeadsPerCta(6, 64 * 12, 64, 132), "6: the G = 3 instance");
    assertEquals(1, KernelChoice.mhaHeadsPerCta(7, 1 << 20, 512, 132), "7: no instance above 1");
    assertEquals(1, KernelChoice.mhaHeadsPerCta(1, 1 << 20, 512, 132), "MHA");
  }

  @Test
  void groupsOfEightKeepEightColumnLanes() {
    for (Quantization q : new Quantization[] {Quantization.INT8, Quantization.FP8}) {
      String fmt = q.name().toLowerCase(java.util.Locale.ROOT);
      assertEquals("mla4j_mha_decode_" + fmt + "_d128_g1",
          KernelChoice.mhaQuantized(kv(q, 8, 128, 8), kv(q, 8, 128, 8), 8, 128, 1).kernel(),
          "a 16-column lane would span two scale groups");
      assertEquals("mla4j_mha_decode_" + fmt + "_d64_g2",
          KernelChoice.mhaQuantized(kv(q, 8, 64, 8), kv(q, 8, 64, 8), 8, 64, 2).kernel());
    }
  }

  @Test
  void otherLayoutsFallBack() {
    Quantization i8 = Quantization.INT8;
    Quantization i4 = Quantization.INT4;
    assertNull(KernelChoice.mhaQuantized(kv(i8, 8, 128, 64), null, 8, 128, 1), "plain V");
    assertNull(KernelChoice.mhaQuantized(kv(i8, 8, 128, 64), kv(Quantization.FP8, 8, 128, 64), 8,
        128, 1), "K INT8, V FP8");
    assertNull(KernelChoice.mhaQuantized(kv(i8, 8, 128, 64), kv(i8, 8, 128, 32), 8, 128, 1),
        "K and V groups differ");
    assertNull(KernelChoice.mhaQuantized(kv(i8, 8, 96, 32), kv(i8, 8, 96, 32), 8, 96, 1), "d_h 96");
    assertNull(KernelChoice.mhaQuantized(kv(i8, 8, 128, 48), kv(i8, 8, 128, 48), 8, 128, 1),
        "groups of 48 do not divide d_h");
    assertNull(KernelChoice.mhaQuantized(kv(i8, 8, 128, 4), kv(i8, 8, 128, 4), 8, 128, 1),
        "groups of 4 split a lane's 8 columns");
    assertNull(KernelChoice.mhaQuantized(kv(i4, 8, 128, 8), kv(i4, 8, 128, 8), 8, 128, 1),
        "INT4 groups of 8: a lane's columns are both nibbles of 4 bytes");
    assertNull(KernelChoice.mhaQuantized(kv(i8, 1, 1024, 64), kv(i8, 1, 1024, 64), 8, 128, 1),
        "one segment for all kv heads");
  }
}
