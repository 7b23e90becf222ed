package dev.mla4j.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** -Dmla4j.backend forces a backend and fails loudly when it cannot be honoured. */
class BackendSelectionTest {
  private String saved;

  @BeforeEach
  void save() {
    saved = System.getProperty(Backends.PROPERTY);
  }

  @AfterEach
  void restore() {
    if (saved == null) {
      System.clearProperty(Backends.PROPERTY);
    } else {
      System.setProperty(Backends.PROPERTY, saved);
    }
  }

  @Test
  void scalarCanBeForced() {
    System.setProperty(Backends.PROPERTY, "scalar");
    try (Backend b = Backends.create(2)) {
      assertEquals("scalar", b.name());
      assertEquals(2, b.threads());
      assertTrue(b.description().contains("scalar"), b.description());
    }
    System.setProperty(Backends.PROPERTY, " SCALAR ");
    try (Backend b = Backends.create(1)) {
      assertEquals("scalar", b.name());
    }
  }

  @Test
  void unknownBackendThrowsNamingIt() {
    System.setProperty(Backends.PROPERTY, "tpu");
    var e = assertThrows(IllegalArgumentException.class, () -> Backends.create(1));
    assertTrue(e.getMessage().contains("tpu") && e.getMessage().contains("unknown"), e.getMessage());
  }

  @Test
  void cudaIsRefusedWithItsReasonOrRuns() {
    var why = Backends.cudaUnavailableReason();
    if (why.isPresent()) {
      var e = assertThrows(IllegalStateException.class, () -> Backends.named("cuda", 1));
      assertTrue(e.getMessage().contains("CUDA") && e.getMessage().contains(why.get()), e.getMessage());
    } else {
      try (var b = Backends.named("cuda", 1)) {
        assertEquals("cuda", b.name());
      }
    }
  }

  @Test
  void threadCountMustBePositive() {
    assertThrows(IllegalArgumentException.class, () -> Backends.scalar(0));
  }
}
