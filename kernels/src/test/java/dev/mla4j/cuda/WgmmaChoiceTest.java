package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * When the wgmma MLA kernel (native/mla_wgmma.cu) is chosen: pure selection logic, no GPU. It has
 * one instance, DeepSeek's shape (L 512 in rows of exactly L, a shared rope key of 64 columns,
 * n_h a multiple of 64, BF16), and needs an sm_90 device with its module loaded; every other
 * case must fall back (null) to the mma.sync kernels. The same for its INT8/FP8/INT4 twin
 * (native/mla_wgmma_quant.cu), which also needs code rows of exactly L bytes (INT4: L/2) in groups
 * of 32/64/128 and rope keys in BF16 or, for its qrope instances, codes of the latent's format in
 * its groups.
 */
class WgmmaChoiceTest {
  /** The H100's opt-in shared memory per block. */
  private static final int H100_SHARED = 232_448;

  private static KernelChoice choose(boolean available, DType dtype, int heads, int latent,
      int latentRow, int rope, int ropeKvStride, int ropeRow, int shared) {
    return KernelChoice.mlaWgmma(available, dtype, heads, latent, latentRow, rope, ropeKvStride,
        ropeRow, shared);
  }

  @Test
  void deepSeekShapeOnAnSm90DeviceTakesIt() {
    for (int heads : new int[] {64, 128}) {
      KernelChoice c = choose(true, DType.BF16, heads, 512, 512, 64, 0, 64, H100_SHARED);
      assertNotNull(c);
      assertEquals(KernelChoice.MLA_WGMMA, c.kernel());
      assertEquals(64, c.headsPerCta());
      assertEquals(64, c.tileTokens());
      assertEquals(256, c.threads());
      // Q~ and two 64-token tiles of 576 BF16 columns, P [64][64] BF16, 3 x 64 floats, 4 flags,
      // 1 KB alignment: within the H100's 227 KB
      assertEquals(3 * 64 * 576 * 2 + 64 * 64 * 2 + 3 * 64 * 4 + 16 + 1024, c.sharedBytes());
    }
  }

  @Test
  void everyOtherCaseFallsBack() {
    assertNull(choose(false, DType.BF16, 128, 512, 512, 64, 0, 64, H100_SHARED), "no sm_90a");
    assertNull(choose(true, DType.F16, 128, 512, 512, 64, 0, 64, H100_SHARED), "FP16 cache");
    assertNull(choose(true, DType.BF16, 32, 512, 512, 64, 0, 64, H100_SHARED), "32 heads");
    assertNull(choose(true, DType.BF16, 96, 512, 512, 64, 0, 64, H100_SHARED), "96 heads");
    assertNull(choose(true, DType.BF16, 128, 1024, 1024, 64, 0, 64, H100_SHARED), "L 1024");
    assertNull(choose(true, DType.BF16, 128, 512, 576, 64, 0, 64, H100_SHARED), "wider rows");
    assertNull(choose(true, DType.BF16, 128, 512, 512, 32, 0, 32, H100_SHARED), "d_r 32");
    assertNull(choose(true, DType.BF16, 32, 512, 512, 16, 16, 512, H100_SHARED), "per-head rope");
    assertNull(choose(true, DType.BF16, 128, 512, 512, 64, 0, 64, 200_000), "too little smem");
  }

  private static KernelChoice chooseQuantized(Quantization q, int segments, int group,
      boolean available, boolean ropeQuantized, DType ropeDtype, int heads, int rope, int shared) {
    return KernelChoice.mlaWgmmaQuantized(available, new QuantizedLayout(q, segments, 512, group),
        ropeDtype, ropeQuantized ? new QuantizedLayout(q, 1, rope, group) : null, heads, rope, 0,
        rope, shared);
  }

  @Test
  void deepSeekShapeOverCodesTakesTheQuantizedInstance() {
    for (Quantization q : new Quantization[] {Quantization.INT8, Quantization.FP8,
        Quantization.INT4}) {
      for (int group : new int[] {32, 64, 128}) {
        for (boolean qrope : new boolean[] {false, true}) {
          KernelChoice c = chooseQuantized(q, 1, group, true, qrope, DType.BF16, 128, 64,
              H100_SHARED);
          assertNotNull(c, q + " g" + group + (qrope ? " qrope" : ""));
          assertEquals("mla4j_mla_wgmma_" + q.name().toLowerCase(java.util.Locale.ROOT)
              + (qrope ? "_qrope" : "") + "_h64_l512_r64", c.kernel());
          assertEquals(64, c.headsPerCta());
          assertEquals(64, c.tileTokens());
          // the BF16 carve-up, plus the rows' factors (64 floats) and 16 ints for its 4 flags
          assertEquals(3 * 64 * 576 * 2 + 64 * 64 * 2 + 4 * 64 * 4 + 16 * 4 + 1024,
              c.sharedBytes());
        }
      }
    }
  }

  @Test
  void quantizedRopeKeysOfAnotherLayoutFallBack() {
    QuantizedLayout latent = new QuantizedLayout(Quantization.INT8, 1, 512, 64);
    assertNull(KernelChoice.mlaWgmmaQuantized(true, latent, DType.BF16,
        new QuantizedLayout(Quantization.FP8, 1, 64, 64), 128, 64, 0, 64, H100_SHARED),
        "rope keys of another format");
    assertNull(KernelChoice.mlaWgmmaQuantized(true, latent, DType.BF16,
        new QuantizedLayout(Quantization.INT8, 1, 64, 32), 128, 64, 0, 64, H100_SHARED),
        "rope keys in other groups");
    assertNull(KernelChoice.mlaWgmmaQuantized(true, latent, DType.BF16,
        new QuantizedLayout(Quantization.INT8, 2, 32, 64), 128, 64, 0, 64, H100_SHARED),
        "rope keys in two segments");
  }

  @Test
  void quantizedCasesOutsideItFallBack() {
    Quantization i8 = Quantization.INT8;
    assertNull(chooseQuantized(i8, 1, 64, false, false, DType.BF16, 128, 64, H100_SHARED),
        "no sm_90a");
    assertNull(chooseQuantized(Quantization.INT4, 1, 16, true, false, DType.BF16, 128, 64,
        H100_SHARED), "int4 group 16");
    assertNull(chooseQuantized(i8, 1, 48, true, false, DType.BF16, 128, 64, H100_SHARED),
        "group 48");
    assertNull(chooseQuantized(i8, 1, 256, true, false, DType.BF16, 128, 64, H100_SHARED),
        "group 256");
    assertNull(chooseQuantized(i8, 2, 64, true, false, DType.BF16, 128, 64, H100_SHARED),
        "two segments");
    assertNull(chooseQuantized(i8, 1, 64, true, true, DType.BF16, 128, 32, H100_SHARED),
        "quantized rope keys of 32");
    assertNull(chooseQuantized(i8, 1, 64, true, false, DType.F16, 128, 64, H100_SHARED),
        "FP16 rope keys");
    assertNull(chooseQuantized(i8, 1, 64, true, false, DType.BF16, 96, 64, H100_SHARED),
        "96 heads");
    assertNull(chooseQuantized(i8, 1, 64, true, false, DType.BF16, 128, 32, H100_SHARED),
        "d_r 32");
    assertNull(chooseQuantized(i8, 1, 64, true, false, DType.BF16, 128, 64, 231_000),
        "too little smem");
  }
}
