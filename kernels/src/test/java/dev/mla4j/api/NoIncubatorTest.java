package dev.mla4j.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Run by the no-incubator execution, in a JVM without --add-modules=jdk.incubator.vector:
 * selection falls back to scalar and says why; forcing simd fails naming the reason.
 */
@Tag("no-incubator")
class NoIncubatorTest {

  @Test
  void fallsBackToScalarAndForcedSimdFailsWithTheReason() {
    assertTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty(),
        "this test must run without the incubator module (surefire execution no-incubator)");
    String reason = Backends.simdUnavailableReason().orElseThrow();
    assertTrue(reason.contains("jdk.incubator.vector"), reason);
    String saved = System.getProperty(Backends.PROPERTY);
    try {
      System.clearProperty(Backends.PROPERTY);
      try (Backend b = Backends.create(1)) {
        assertEquals("scalar", b.name());
      }
      System.setProperty(Backends.PROPERTY, "simd");
      var e = assertThrows(IllegalStateException.class, () -> Backends.create(1));
      assertTrue(e.getMessage().contains(reason), e.getMessage());
    } finally {
      if (saved == null) {
        System.clearProperty(Backends.PROPERTY);
      } else {
        System.setProperty(Backends.PROPERTY, saved);
      }
    }
  }
}
