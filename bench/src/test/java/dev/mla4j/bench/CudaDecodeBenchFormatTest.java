package dev.mla4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.CacheFormat.Quantization;
import org.junit.jupiter.api.Test;

/** The format names {@code CudaDecodeBench one} takes, and the ones it refuses. */
class CudaDecodeBenchFormatTest {
  @Test
  void namesMapToTheSweepsFormats() {
    assertEquals(CudaDecode.PLAIN, CudaDecodeBench.format("bf16"));
    CacheFormat int8 = CudaDecodeBench.format("int8");
    assertEquals(Quantization.INT8, int8.quantization());
    assertFalse(int8.quantizeRopeKeys());
    CacheFormat fp8Rope = CudaDecodeBench.format("fp8+rope");
    assertEquals(Quantization.FP8, fp8Rope.quantization());
    assertTrue(fp8Rope.quantizeRopeKeys());
    assertEquals(64, fp8Rope.groupSize());
    CacheFormat int4 = CudaDecodeBench.format("int4");
    assertEquals(Quantization.INT4, int4.quantization());
    assertFalse(int4.quantizeRopeKeys());
    assertTrue(CudaDecodeBench.format("int4+rope").quantizeRopeKeys());
  }

  @Test
  void unknownNamesAreRefused() {
    for (String bad : new String[] {"int5", "rope", "+rope", "bf16+rope", "INT8", "fp8+"}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> CudaDecodeBench.format(bad), bad);
      assertTrue(e.getMessage().contains(bad), e.getMessage());
    }
  }

  @Test
  void aBadFormatFailsBeforeAnyGpuWork() {
    // no GPU here: a format checked only after CudaContext.get() would fail with "CUDA backend
    // unavailable" instead
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CudaDecodeBench.main(new String[] {"x.csv", "one", "0", "64", "4096", "int8",
            "0", "64", "4096", "int5"}));
    assertTrue(e.getMessage().contains("int5"), e.getMessage());
  }
}
