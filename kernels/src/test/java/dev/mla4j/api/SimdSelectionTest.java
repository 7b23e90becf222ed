package dev.mla4j.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.testing.BackendCases;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The SIMD backend is really selected where the Vector API is available, and reports the width
 * forced with -Dmla4j.simd.bits, so a silent fallback cannot pass as SIMD coverage.
 */
@Tag("simd")
class SimdSelectionTest {

  @Test
  void selectedSimdBackendReportsItsWidth() throws ReflectiveOperationException {
    try (Backend b = BackendCases.open("simd", 1)) {
      assertEquals("simd", b.name());
      int bits = (int) Class.forName("dev.mla4j.simd.SimdBackend").getMethod("vectorBitSize")
          .invoke(null);
      String forced = System.getProperty("mla4j.simd.bits");
      if (forced != null) {
        assertEquals(Integer.parseInt(forced.trim()), bits, "-Dmla4j.simd.bits=" + forced);
      }
      assertTrue(b.description().contains(bits + "-bit"), b.description());
    }
  }

  @Test
  void defaultSelectionPrefersSimdWhenAvailable() {
    String forced = System.getProperty(Backends.PROPERTY);
    try (Backend b = Backends.create(1)) {
      String expected = forced != null ? forced.trim()
          : Backends.simdUnavailableReason().isEmpty() ? "simd" : "scalar";
      assertEquals(expected, b.name(), b.description());
    }
  }
}
