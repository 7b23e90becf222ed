package dev.mla4j.api;

import dev.mla4j.scalar.ScalarBackend;
import java.lang.reflect.InvocationTargetException;
import java.util.Locale;
import java.util.Optional;

/**
 * Chooses a backend at run time the way Lucene chooses its vectorization provider: the scalar
 * backend is referenced directly; the SIMD backend is loaded by name only after the checks pass,
 * so this class loads fine when {@code jdk.incubator.vector} is absent. A refusal is logged in
 * one line. The system property {@value #PROPERTY} ({@code scalar}, {@code simd}, {@code cuda})
 * forces a backend and fails loudly if it cannot be honoured.
 */
public final class Backends {
  /** Forces a backend: {@code scalar}, {@code simd} or {@code cuda}. */
  public static final String PROPERTY = "mla4j.backend";
  /** Worker threads of CPU backends; defaults to the available processors. */
  public static final String THREADS_PROPERTY = "mla4j.threads";

  private static final System.Logger LOG = System.getLogger("dev.mla4j");
  private static final String SIMD_CLASS = "dev.mla4j.simd.SimdBackend";
  private static final String CUDA_CLASS = "dev.mla4j.cuda.CudaBackend";

  private Backends() {}

  /** The forced backend if {@value #PROPERTY} is set, else the fastest available one. */
  public static Backend create() {
    return create(defaultThreads());
  }

  public static Backend create(int threads) {
    String forced = System.getProperty(PROPERTY);
    if (forced != null && !forced.isBlank()) {
      return named(forced.trim().toLowerCase(Locale.ROOT), threads);
    }
    Optional<String> why = simdUnavailableReason();
    if (why.isEmpty()) {
      return simd(threads);
    }
    LOG.log(System.Logger.Level.INFO, "mla4j: SIMD backend not used (" + why.get()
        + "); using the scalar backend");
    return scalar(threads);
  }

  /** The backend called {@code name}, or an exception saying why it cannot be had. */
  public static Backend named(String name, int threads) {
    return switch (name) {
      case "scalar" -> scalar(threads);
      case "simd" -> simd(threads);
      case "cuda" -> cuda(threads);
      default -> throw new IllegalArgumentException(
          "-D" + PROPERTY + "=" + name + ": unknown backend (use scalar, simd or cuda)");
    };
  }

  public static Backend scalar(int threads) {
    return new ScalarBackend(threads);
  }

  /** The SIMD backend; throws {@link IllegalStateException} with the reason if unavailable. */
  public static Backend simd(int threads) {
    Optional<String> why = simdUnavailableReason();
    if (why.isPresent()) {
      throw new IllegalStateException("SIMD backend unavailable: " + why.get());
    }
    try {
      return (Backend) Class.forName(SIMD_CLASS).getConstructor(int.class).newInstance(threads);
    } catch (InvocationTargetException e) {
      throw new IllegalStateException("SIMD backend failed to start: " + e.getCause(), e.getCause());
    } catch (ReflectiveOperationException | LinkageError e) {
      throw new IllegalStateException("SIMD backend failed to load: " + e, e);
    }
  }

  /**
   * The CUDA backend; throws {@link IllegalStateException} with the reason (no libcuda, no
   * device, no kernels) if unavailable. Automatic selection does not pick it: its host-tensor
   * calls copy operands to the device and back each time, which loses to the CPU on single
   * small operations; ask for it by name or use its device-resident path.
   */
  public static Backend cuda(int threads) {
    Optional<String> why = cudaUnavailableReason();
    if (why.isPresent()) {
      throw new IllegalStateException("CUDA backend unavailable: " + why.get());
    }
    try {
      return (Backend) Class.forName(CUDA_CLASS).getConstructor(int.class).newInstance(threads);
    } catch (InvocationTargetException e) {
      throw new IllegalStateException("CUDA backend failed to start: " + e.getCause(), e.getCause());
    } catch (ReflectiveOperationException | LinkageError e) {
      throw new IllegalStateException("CUDA backend failed to load: " + e, e);
    }
  }

  /** Empty when the CUDA backend can run here, otherwise why not (probes the driver once). */
  @SuppressWarnings("unchecked")
  public static Optional<String> cudaUnavailableReason() {
    try {
      return (Optional<String>) Class.forName(CUDA_CLASS).getMethod("unavailableReason").invoke(null);
    } catch (InvocationTargetException e) {
      return Optional.of("CUDA probe failed: " + e.getCause());
    } catch (ReflectiveOperationException | LinkageError e) {
      return Optional.of("CUDA backend not in this build: " + e);
    }
  }

  /** Empty when the SIMD backend can run here, otherwise why not. */
  public static Optional<String> simdUnavailableReason() {
    if (Runtime.version().feature() < 25) {
      return Optional.of("needs Java 25, running " + Runtime.version());
    }
    Optional<Module> vector = ModuleLayer.boot().findModule("jdk.incubator.vector");
    if (vector.isEmpty()) {
      return Optional.of("module jdk.incubator.vector not present: start the JVM with "
          + "--add-modules=jdk.incubator.vector");
    }
    if (!Backends.class.getModule().canRead(vector.get())) {
      return Optional.of("module jdk.incubator.vector not readable by " + Backends.class.getModule());
    }
    String info = System.getProperty("java.vm.info", "");
    if (info.contains("interpreted mode")) {
      return Optional.of("JVM runs interpreted (-Xint): the Vector API would be slower than scalar");
    }
    if (!System.getProperty("java.vm.name", "").contains("HotSpot")
        && !System.getProperty("java.vm.name", "").contains("OpenJDK")) {
      return Optional.of("not a HotSpot JVM (" + System.getProperty("java.vm.name") + ")");
    }
    return Optional.empty();
  }

  public static int defaultThreads() {
    Integer forced = Integer.getInteger(THREADS_PROPERTY);
    if (forced != null) {
      if (forced <= 0) {
        throw new IllegalArgumentException("-D" + THREADS_PROPERTY + " must be > 0, got " + forced);
      }
      return forced;
    }
    return Runtime.getRuntime().availableProcessors();
  }
}
