package dev.mla4j.testing;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import java.util.List;
import java.util.function.Function;

/** Runs one operation on the scalar reference and on every backend under test, then checks each. */
public final class Conformance {
  private Conformance() {}

  /**
   * @param op runs the operation on a backend with freshly built outputs and returns them
   *     row-major; it may be called several times and must not change its inputs
   */
  public static void check(String what, Seeds.Case c, int threads, double[] ref, double floor,
      Function<Backend, float[]> op) {
    check(what, c, threads, ref, floor, BackendCases.names(), op);
  }

  /** As above on the given backends only (e.g. {@link BackendCases#cpuNames()}). */
  public static void check(String what, Seeds.Case c, int threads, double[] ref, double floor,
      List<String> backends, Function<Backend, float[]> op) {
    float[] scalar;
    try (Backend reference = Backends.scalar(threads)) {
      scalar = op.apply(reference);
    }
    for (String name : backends) {
      float[] y;
      if (name.equals("scalar")) {
        y = scalar;
      } else {
        try (Backend b = BackendCases.open(name, threads)) {
          y = op.apply(b);
        }
      }
      ErrorCheck.check(what, c, name + "/" + threads + "t", ref, scalar, y, floor);
    }
  }
}
