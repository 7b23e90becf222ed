package dev.mla4j.cache;

/**
 * The OCP FP8 E4M3 ("e4m3fn") code of a float: sign, 4 exponent bits (bias 7), 3 mantissa bits;
 * no infinities, largest finite 448 ({@code 0x7e}), NaN {@code 0x7f}/{@code 0xff}; subnormals
 * {@code m·2^-9}. Encoding rounds to nearest, ties to even, and saturates at ±448, as
 * {@code cvt.rn.satfinite.e4m3x2.f32} does on the GPU.
 */
public final class E4m3 {
  /** Largest finite magnitude. */
  public static final float MAX = 448f;
  private static final float MIN_NORMAL = 0x1p-6f;

  private E4m3() {}

  /** The code of {@code v}: NaN to 0x7f, |v| >= 448 to ±448. */
  public static byte encode(float v) {
    if (Float.isNaN(v)) {
      return 0x7f;
    }
    int sign = v < 0 || (v == 0 && 1 / v < 0) ? 0x80 : 0;
    float a = Math.min(Math.abs(v), MAX);
    int bits;
    if (a < MIN_NORMAL) {
      bits = (int) Math.rint(a * 0x1p9f); // 0..8; 8 is 2^-6, the first normal, bits 0x08
    } else {
      int e = Math.getExponent(a);
      float step = Math.scalb(1f, e - 3);
      float q = (float) Math.rint(a / step) * step; // exact scaling by a power of two
      int eq = Math.getExponent(q);                 // e + 1 when rounding carried
      int mantissa = (int) (q / Math.scalb(1f, eq - 3)) - 8;
      bits = (eq + 7) << 3 | mantissa;
    }
    return (byte) (sign | bits);
  }

  /** The value of code {@code b}. */
  public static float decode(byte b) {
    int e = (b >> 3) & 0xf;
    int m = b & 7;
    if (e == 0xf && m == 7) {
      return Float.NaN;
    }
    float a = e == 0 ? m * 0x1p-9f : Math.scalb(1f + m / 8f, e - 7);
    return b < 0 ? -a : a;
  }
}
