package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * When the mma.sync MLA kernel over quantized rope keys (native/mla_mma_quant_rope.cu, and the INT4
 * qrope instances of mla_mma_quant_int4.cu) is chosen: pure selection logic, no GPU. It stages the
 * rope codes in the BF16 rope stage, so it takes the slab and tile of the BF16-rope instance of
 * the same shape; it needs rope keys in the latent's format, d_r a multiple of 16, one segment per
 * kv head (or one shared key), at most 1024 rope columns per slab, and for INT4 groups of one
 * length. Per-head keys of d_r 8 take the qrope8 instances, whose 16-code chunks hold two kv
 * heads, where every slab's rope span starts and ends on a chunk. Every other case must fall back
 * (null) to the generic kernel.
 */
class QuantizedRopeChoiceTest {
  /** The H100's opt-in shared memory per block. */
  private static final int H100_SHARED = 232_448;

  /** n_h heads in GQA groups of {@code group}, L 512 in groups of 64, d_r per kv head. */
  private static KernelChoice choose(Quantization latent, QuantizedLayout rope, int heads,
      int group, int dR) {
    int kvHeads = heads / group;
    return KernelChoice.mlaMmaQuantized(new QuantizedLayout(latent, 1, 512, 64), DType.BF16, rope,
        heads, group, dR, dR, kvHeads * dR, H100_SHARED, false);
  }

  private static QuantizedLayout perHead(Quantization q, int kvHeads, int dR, int groupSize) {
    return new QuantizedLayout(q, kvHeads, dR, groupSize);
  }

  /**
   * For every format and GQA group: the quantized-rope choice is the BF16-rope instance of the
   * same shape renamed with {@code suffix}, on the same slab, tile and shared memory.
   */
  private static void takesTheBf16RopeSlab(int dR, int[] groups, String suffix) {
    for (Quantization q : new Quantization[] {Quantization.INT8, Quantization.FP8,
        Quantization.INT4}) {
      for (int group : groups) {
        KernelChoice plain = choose(q, null, 32, group, dR);
        KernelChoice quant = choose(q, perHead(q, 32 / group, dR, 64), 32, group, dR);
        assertNotNull(quant, q + " group " + group);
        String fmt = q.name().toLowerCase(java.util.Locale.ROOT);
        assertEquals(plain.kernel().replace("_" + fmt + "_", "_" + fmt + suffix + "_"),
            quant.kernel());
        assertEquals(plain.headsPerCta(), quant.headsPerCta());
        assertEquals(plain.tileTokens(), quant.tileTokens());
        assertEquals(plain.sharedBytes(), quant.sharedBytes());
      }
    }
  }

  @Test
  void llamaShapesTakeTheQropeInstanceOfTheBf16RopeSlab() {
    takesTheBf16RopeSlab(16, new int[] {1, 2}, "_qrope");  // MHA, and GQA groups of 2
    assertEquals("mla4j_mla_mma_int8_qrope_m2_l8_t32",
        choose(Quantization.INT8, perHead(Quantization.INT8, 32, 16, 64), 32, 1, 16).kernel());
  }

  @Test
  void ropeKeysOfEightCodesTakeTheQrope8InstanceOfTheBf16RopeSlab() {
    // SmolLM-1.7B (MHA, d_h 64: d_r 8) and GQA groups of 4 (8 kv heads, Llama-3.2-1B's layout)
    takesTheBf16RopeSlab(8, new int[] {1, 4}, "_qrope8");
    // a rope row of 3 kv heads (24 codes) breaks the 16-byte row copies
    assertNull(choose(Quantization.INT8, perHead(Quantization.INT8, 3, 8, 64), 48, 16, 8),
        "n_kv·d_r 24");
    // slabs whose span starts or ends inside a chunk: one kv head of 8 per 16-head slab
    assertTrue(KernelChoice.ropeChunksAligned(32, 16, 1, 8, 8));
    assertTrue(KernelChoice.ropeChunksAligned(32, 32, 16, 8, 8));
    assertFalse(KernelChoice.ropeChunksAligned(32, 16, 16, 8, 8));
    // groups of 12 over 16-head slabs: the second slab's kv heads 1-2 start at column 8
    assertFalse(KernelChoice.ropeChunksAligned(48, 16, 12, 8, 8));
  }

  @Test
  void sharedRopeKeyTakesIt() {
    // DeepSeek's shape: one shared key of 64, in two groups of 32 or one of 64 (an odd number
    // of scales per row, copied as 4-byte words from an even index)
    for (int g : new int[] {32, 64}) {
      QuantizedLayout rope = new QuantizedLayout(Quantization.FP8, 1, 64, g);
      KernelChoice c = KernelChoice.mlaMmaQuantized(
          new QuantizedLayout(Quantization.FP8, 1, 512, g), DType.BF16, rope, 128, 128, 64, 0, 64,
          H100_SHARED, false);
      assertNotNull(c, "g" + g);
      assertTrue(c.kernel().startsWith("mla4j_mla_mma_fp8_qrope_"), c.kernel());
    }
    // one kv head of 16 columns in one group: one scale per row
    assertNotNull(choose(Quantization.INT8, perHead(Quantization.INT8, 1, 16, 64), 16, 16, 16));
  }

  @Test
  void otherRopeLayoutsFallBack() {
    Quantization i8 = Quantization.INT8;
    assertNull(choose(i8, perHead(Quantization.FP8, 32, 16, 64), 32, 1, 16), "FP8 rope, INT8 latent");
    assertNull(choose(i8, perHead(Quantization.INT4, 32, 16, 64), 32, 1, 16), "INT4 rope");
    // d_r 48 in groups of 32: a group of 32 and a short one of 16. INT8's 16-code chunks each
    // stay in one group; an INT4 chunk (8 bytes) would straddle the short group's two halves
    for (Quantization q : new Quantization[] {i8, Quantization.INT4}) {
      KernelChoice c = KernelChoice.mlaMmaQuantized(new QuantizedLayout(q, 1, 512, 32),
          DType.BF16, perHead(q, 16, 48, 32), 32, 2, 48, 48, 16 * 48, H100_SHARED, false);
      if (q == i8) {
        assertNotNull(c, "INT8 d_r 48 g32");
      } else {
        assertNull(c, "INT4 d_r 48 g32");
      }
    }
    // d_r 80 per head: a 16-head slab spans 1280 rope columns
    assertNotNull(choose(i8, null, 16, 1, 80), "the BF16-rope instance fits");
    assertNull(choose(i8, perHead(i8, 16, 80, 64), 16, 1, 80), "1280 rope columns");
    assertEquals(1280, KernelChoice.ropeSpan(16, 16, 1, 80, 80));
    assertEquals(1024, KernelChoice.ropeSpan(16, 16, 1, 64, 64));
    // rope segments that are not one per kv head
    assertNull(KernelChoice.mlaMmaQuantized(new QuantizedLayout(i8, 1, 512, 64), DType.BF16,
        new QuantizedLayout(i8, 1, 512, 64), 32, 1, 16, 16, 512, H100_SHARED, false),
        "one segment");
  }
}
