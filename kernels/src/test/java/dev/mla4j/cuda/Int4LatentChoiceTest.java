package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * When the mma.sync MLA kernel over an INT4 latent (native/mla_mma_quant_int4.cu) is chosen: pure
 * selection logic, no GPU. Its codes are staged in the same FP16 stage rows as INT8's, so it
 * takes the INT8 instance's slab, tile and shared memory; it needs groups of a multiple of 32 (a
 * lane's chunk of codes inside one group's low or high half). INT4 rope keys are in
 * QuantizedRopeChoiceTest. Every other case falls back (null) to the generic kernel.
 */
class Int4LatentChoiceTest {
  /** The H100's opt-in shared memory per block. */
  private static final int H100_SHARED = 232_448;

  /** Llama-2-7B's MHA2MLA shape with latent width L (d_kv·32) and per-head rope keys of 16. */
  private static KernelChoice llama(Quantization q, int l, int group, QuantizedLayout rope) {
    return KernelChoice.mlaMmaQuantized(new QuantizedLayout(q, 1, l, group), DType.BF16, rope, 32,
        1, 16, 16, 512, H100_SHARED, false);
  }

  @Test
  void int4TakesTheSlabOfTheInt8Instance() {
    for (int l : new int[] {512, 1024, 2048}) {
      for (int g : new int[] {32, 64, 128}) {
        KernelChoice int8 = llama(Quantization.INT8, l, g, null);
        KernelChoice int4 = llama(Quantization.INT4, l, g, null);
        assertNotNull(int4, "L " + l + " g" + g);
        assertEquals(int8.kernel().replace("_int8_", "_int4_"), int4.kernel());
        assertEquals(int8.headsPerCta(), int4.headsPerCta());
        assertEquals(int8.tileTokens(), int4.tileTokens());
        assertEquals(int8.sharedBytes(), int4.sharedBytes());
      }
    }
    assertEquals("mla4j_mla_mma_int4_m2_l8_t32", llama(Quantization.INT4, 512, 64, null).kernel());
  }

  @Test
  void deepSeekShapeRunsWgmmaForInt4AndMmaSyncWithout() {
    QuantizedLayout latent = new QuantizedLayout(Quantization.INT4, 1, 512, 64);
    KernelChoice w = KernelChoice.mlaWgmmaQuantized(true, latent, DType.BF16, null, 128, 64, 0,
        64, H100_SHARED);
    assertNotNull(w);
    assertEquals("mla4j_mla_wgmma_int4_h64_l512_r64", w.kernel());
    assertNull(KernelChoice.mlaWgmmaQuantized(false, latent, DType.BF16, null, 128, 64, 0, 64,
        H100_SHARED), "no sm_90a");
    KernelChoice c = KernelChoice.mlaMmaQuantized(latent, DType.BF16, null, 128, 128, 64, 0, 64,
        H100_SHARED, false);
    assertNotNull(c);
    assertEquals("mla4j_mla_mma_int4_m4_l8_t32", c.kernel());
  }

  @Test
  void otherInt4LayoutsFallBack() {
    assertNull(llama(Quantization.INT4, 512, 16, null), "group 16: 8-byte halves");
    assertNull(llama(Quantization.INT4, 512, 48, null), "group 48 does not divide L");
    assertNull(KernelChoice.mlaMmaQuantized(new QuantizedLayout(Quantization.INT4, 1, 768, 64),
        DType.BF16, null, 32, 1, 16, 16, 512, H100_SHARED, false), "L 768 has no instance");
  }
}
