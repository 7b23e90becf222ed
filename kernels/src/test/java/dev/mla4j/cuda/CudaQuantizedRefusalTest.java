package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.cache.CacheFormat;
import dev.mla4j.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend's refusal of quantized host caches, checked without a GPU (the whole-backend
 * check, which also leaves the cache untouched, is in {@link CudaBackendTest}).
 */
class CudaQuantizedRefusalTest {

  @Test
  void quantizedCachesAreRefusedNamingTheFormatAndTheFix() {
    UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
        () -> CudaBackend.refuseQuantized(CacheFormat.int4(64).withWindow(128), "latent cache"));
    assertTrue(e.getMessage().contains("latent cache format INT4 (group 64"), e.getMessage());
    assertTrue(e.getMessage().contains("not supported on the cuda backend yet"), e.getMessage());
    assertTrue(e.getMessage().contains("simd"), e.getMessage());
    assertThrows(UnsupportedOperationException.class,
        () -> CudaBackend.refuseQuantized(CacheFormat.int8(32), "KV cache"));
    assertDoesNotThrow(() -> CudaBackend.refuseQuantized(CacheFormat.plain(DType.BF16), "KV cache"));
  }
}
