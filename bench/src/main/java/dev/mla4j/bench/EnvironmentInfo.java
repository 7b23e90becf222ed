package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import java.io.PrintStream;

/** The report's header: what runs (backend, JVM, vector width, cores). */
final class EnvironmentInfo {
  private EnvironmentInfo() {}

  static boolean vectorModulePresent() {
    return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
  }

  static void print(PrintStream out, Backend backend) {
    out.println("backend: " + backend.description());
    Backends.simdUnavailableReason().ifPresent(why -> out.println("  (SIMD unavailable: " + why + ")"));
    out.println("JVM:     " + System.getProperty("java.vm.name") + " " + Runtime.version() + " ("
        + System.getProperty("java.vm.info") + "), " + System.getProperty("os.arch") + ", "
        + Runtime.getRuntime().availableProcessors() + " processors");
    out.println("vector:  " + (vectorModulePresent() ? VectorWidth.describe()
        : "jdk.incubator.vector not present (start the JVM with --add-modules=jdk.incubator.vector)"));
  }
}
