package dev.mla4j.simd;

/**
 * Per-thread scratch arrays, grown on demand and never shrunk, so kernels called once per layer
 * and token do not allocate. Contents are undefined on entry; a kernel owns every slot while it
 * runs (kernels never nest on one thread).
 */
final class SimdScratch {
  private static final int SLOTS = 10;
  private static final ThreadLocal<SimdScratch> LOCAL = ThreadLocal.withInitial(SimdScratch::new);

  private final float[][] floats = new float[SLOTS][];
  private final int[][] ints = new int[SLOTS][];

  private SimdScratch() {}

  /** A float array of at least {@code size} elements for slot {@code slot} of this thread. */
  static float[] floats(int slot, int size) {
    SimdScratch s = LOCAL.get();
    float[] a = s.floats[slot];
    if (a == null || a.length < size) {
      a = new float[size];
      s.floats[slot] = a;
    }
    return a;
  }

  /** An int array of at least {@code size} elements for slot {@code slot} of this thread. */
  static int[] ints(int slot, int size) {
    SimdScratch s = LOCAL.get();
    int[] a = s.ints[slot];
    if (a == null || a.length < size) {
      a = new int[size];
      s.ints[slot] = a;
    }
    return a;
  }

  /** {@code n} rounded up to a multiple of {@code m}. */
  static int roundUp(int n, int m) {
    return (n + m - 1) / m * m;
  }
}
