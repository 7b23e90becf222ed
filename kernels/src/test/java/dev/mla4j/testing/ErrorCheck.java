package dev.mla4j.testing;

import static org.junit.jupiter.api.Assertions.fail;

import dev.mla4j.tensor.DType;

/**
 * The tolerance policy, one rule for every kernel. Error is {@code max|y - ref| / max|ref|}
 * against the double-precision oracle. A backend passes iff its output is finite, its error is at
 * most {@code 2 × (the scalar backend's error on the same inputs) + floor}, and its cosine
 * similarity with the oracle is above {@link #MIN_COSINE}; the scalar backend itself must be
 * within the floor alone, so the reference implementation cannot drift either.
 *
 * <p>{@code floor = FLOOR_C · ε · sqrt(n)}: ε is the unit roundoff of the dtype the result is
 * computed and stored in, n the reduction length. Every kernel widens BF16/F16 operands to F32
 * exactly and the oracle reads the stored bits, so storage rounding of weights and caches is not
 * an error source; results are F32, so callers pass {@link DType#F32} (a future kernel writing
 * BF16 outputs would pass BF16). Float32 summation of n random terms has an error that grows like
 * ε·sqrt(n) relative to the result (random-walk rounding). The worst scalar error seen over
 * repeated runs (printed with {@code -Dmla4j.test.calibrate=FILE}) was c = 2.3 (attention),
 * 1.4 (linear); {@code FLOOR_C = 16} leaves a margin of about 7× for unlucky draws while still
 * failing for one wrong, dropped or extra term, an O(1/sqrt(n)) error, orders of magnitude
 * above the floor at every tested n.
 */
public final class ErrorCheck {
  /** c of the floor c·ε·sqrt(n). */
  public static final double FLOOR_C = 16;
  /** Allowed ratio of a backend's error to the scalar backend's. */
  public static final double SCALAR_RATIO = 2;
  public static final double MIN_COSINE = 0.9999;

  private ErrorCheck() {}

  /** The floor for a result stored in {@code dtype} after reductions of length {@code n}. */
  public static double floor(DType dtype, long n) {
    return FLOOR_C * dtype.epsilon() * Math.sqrt(Math.max(1, n));
  }

  /**
   * Widens {@code floor} by the conditioning of the result: when the outputs cancel to far less
   * than the typical size of their terms ({@code termNorm}), every summation order loses the same
   * absolute accuracy, which is a larger share of max|ref|. With many outputs the factor is ~1;
   * a single dot product that nearly cancels (seen: ref -0.011 from terms of norm 6.4) needs it.
   */
  public static double conditioned(double floor, double[] ref, double termNorm) {
    double maxRef = maxAbs(ref);
    return maxRef == 0 ? floor : floor * Math.max(1, termNorm / maxRef);
  }

  /**
   * The floor for attention outputs, each a convex combination of the cached value (or latent)
   * rows {@code values}: rounding moves an output by about ε·sqrt(n)·max|v| whatever its own size,
   * so when the few outputs of a narrow head average to far less than max|v| (seen: d_h 1, two
   * heads) the floor is {@link #conditioned} by max|v|.
   */
  public static double attentionFloor(long n, double[] ref, double[] values) {
    return conditioned(floor(DType.F32, n), ref, maxAbs(values));
  }

  private static double maxAbs(double[] x) {
    double max = 0;
    for (double v : x) {
      max = Math.max(max, Math.abs(v));
    }
    return max;
  }

  /**
   * The floor for RoPE outputs: besides the 2-term rotation, the F32 angle {@code pos·θ} (rounded
   * θ times pos, rounded again, as Hugging Face computes it) is off by up to about
   * {@code 2ε·angle}, which moves the output by as much relative to its norm.
   */
  public static double ropeFloor(double maxAngle) {
    return floor(DType.F32, 2) + FLOOR_C * DType.F32.epsilon() * 2 * maxAngle;
  }

  /** max |y - ref| / max |ref|; +inf if y has a NaN or infinity. */
  public static double error(double[] ref, float[] y) {
    if (ref.length != y.length) {
      throw new AssertionError("length " + y.length + " vs reference " + ref.length);
    }
    double maxDiff = 0;
    double maxRef = 0;
    for (int i = 0; i < ref.length; i++) {
      if (!Float.isFinite(y[i])) {
        return Double.POSITIVE_INFINITY;
      }
      maxDiff = Math.max(maxDiff, Math.abs(y[i] - ref[i]));
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    return maxRef == 0 ? maxDiff : maxDiff / maxRef;
  }

  /** Cosine similarity; 1 when both are zero vectors. */
  public static double cosine(double[] ref, float[] y) {
    double dot = 0;
    double a = 0;
    double b = 0;
    for (int i = 0; i < ref.length; i++) {
      dot += ref[i] * y[i];
      a += ref[i] * ref[i];
      b += (double) y[i] * y[i];
    }
    if (a == 0 && b == 0) {
      return 1;
    }
    return dot / Math.sqrt(a * b);
  }

  /**
   * Checks {@code y} of {@code backend} against the oracle {@code ref}, given the scalar
   * backend's output {@code scalar} on the same inputs.
   */
  public static void check(String what, Seeds.Case c, String backend, double[] ref, float[] scalar,
      float[] y, double floor) {
    double scalarError = error(ref, scalar);
    double e = error(ref, y);
    double cos = cosine(ref, y);
    String detail = what + " on " + backend + ": error " + e + ", scalar error " + scalarError
        + ", floor " + floor + ", cosine " + cos + " " + c;
    if (Double.isInfinite(e) || Double.isNaN(e)) {
      fail("non-finite output: " + detail);
    }
    if (scalarError > floor) {
      fail("scalar reference outside the floor: " + detail);
    }
    if (e > SCALAR_RATIO * scalarError + floor) {
      fail("error above " + SCALAR_RATIO + " x scalar + floor: " + detail);
    }
    if (cos < MIN_COSINE) {
      fail("cosine similarity below " + MIN_COSINE + ": " + detail);
    }
    Calibration.record(what, scalarError / floor * FLOOR_C, e / floor * FLOOR_C);
  }
}
