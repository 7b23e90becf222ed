package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;

/** Opens the backend a benchmark asked for, or fails it: a benchmark never measures a fallback. */
final class BenchBackends {
  private BenchBackends() {}

  /**
   * The backend called {@code name} with {@code threads} threads. Throws with the reason when it
   * cannot run in this JVM (e.g. {@code simd} in a fork started without
   * {@code --add-modules=jdk.incubator.vector}), so JMH reports the benchmark as failed.
   */
  static Backend open(String name, int threads) {
    Backend backend = Backends.named(name, threads);
    // the GPU runs its own threads: a cuda backend reports the host's count, not the request
    boolean threadsMatter = !name.equals("cuda");
    if (!backend.name().equals(name) || (threadsMatter && backend.threads() != threads)) {
      String got = backend.description();
      backend.close();
      throw new IllegalStateException(
          "benchmark asked for backend " + name + " with " + threads + " threads but got " + got);
    }
    return backend;
  }
}
