package dev.mla4j.testing;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;

/**
 * The backends a conformance test runs: scalar, simd and (where a GPU is usable) cuda, or only the one forced with
 * {@code -Dmla4j.backend} (the simd-128/simd-512 executions). The scalar backend is also always
 * opened as the reference whose error bounds the others'.
 */
public final class BackendCases {
  private BackendCases() {}

  public static List<String> names() {
    String forced = System.getProperty(Backends.PROPERTY);
    if (forced != null && !forced.isBlank()) {
      return List.of(forced.trim());
    }
    return Backends.cudaUnavailableReason().isEmpty() ? List.of("scalar", "simd", "cuda")
        : List.of("scalar", "simd");
  }

  /** Skips the calling test (or class, from {@code @BeforeAll}) with the reason when no GPU is usable. */
  public static void assumeCuda() {
    Optional<String> why = Backends.cudaUnavailableReason();
    Assumptions.assumeTrue(why.isEmpty(), () -> "no usable GPU: " + why.get());
  }

  /** As {@link #names()} without cuda: for caches only the CPU backends read (quantized ones). */
  public static List<String> cpuNames() {
    return names().stream().filter(n -> !n.equals("cuda")).toList();
  }

  /**
   * Opens backend {@code name}. A SIMD test is skipped only when this JVM cannot run the Vector
   * API at all (module absent, interpreter); when it can, a SIMD backend that fails to load fails
   * the test instead of passing silently as scalar.
   */
  public static Backend open(String name, int threads) {
    if (name.equals("simd")) {
      Optional<String> why = Backends.simdUnavailableReason();
      Assumptions.assumeTrue(why.isEmpty(), () -> "SIMD backend not testable here: " + why.get());
    }
    Backend b = Backends.named(name, threads);
    if (!b.name().equals(name)) {
      b.close();
      throw new AssertionError("asked for backend " + name + " but got " + b.description());
    }
    return b;
  }
}
