package dev.mla4j.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.mla4j.oracle.QuantDecoder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * {@link E4m3} against the format's definition, with no code shared: values come from the
 * oracle's decoder ({@link QuantDecoder#e4m3}), and the expected code of a float is found by
 * brute force over every finite code of the float's sign: the nearest value, a tie going to the
 * code with an even last mantissa bit. Being nearest among finite codes is what saturation at
 * ±448 means, so no separate rule is written for it.
 */
class E4m3Test {
  /** The finite codes of one sign, 0x00..0x7e or 0x80..0xfe, in increasing magnitude. */
  private static final int FINITE = 0x7f;
  /** {@link QuantDecoder#e4m3} of every code, for the brute force. */
  private static final double[] VALUES =
      IntStream.range(0, 256).mapToDouble(QuantDecoder::e4m3).toArray();

  @Test
  void decodesEveryCodeAsTheDefinitionSays() {
    for (int c = 0; c < 256; c++) {
      double want = QuantDecoder.e4m3(c);
      float got = E4m3.decode((byte) c);
      if (Double.isNaN(want)) {
        assertTrue(Float.isNaN(got), hex(c) + " decodes to " + got + ", not NaN");
      } else {
        // equals on the boxed doubles tells -0 from +0
        assertEquals(Double.valueOf(want), Double.valueOf(got), hex(c));
      }
    }
    assertEquals(448.0, QuantDecoder.e4m3(0x7e));
    assertEquals(0x1p-9, QuantDecoder.e4m3(0x01));
    assertEquals(0x1p-6, QuantDecoder.e4m3(0x08));
    assertEquals(-0.0, QuantDecoder.e4m3(0x80));
  }

  @Test
  void encodesEveryCodeValueToItself() {
    for (int c = 0; c < 256; c++) {
      if ((c & FINITE) != FINITE) {
        assertEquals(hex(c), hex(E4m3.encode((float) QuantDecoder.e4m3(c))));
      }
    }
  }

  /**
   * Every midpoint between neighbouring codes (ties: the even code wins) and the floats just
   * either side of it, both signs, including the midpoint between 448 and the 480 that E4M3fn
   * lacks, 0 and the first subnormal, the subnormals and the first normal.
   */
  @Test
  void roundsMidpointsToEvenAndTheirNeighboursToTheNearest() {
    List<Float> xs = new ArrayList<>();
    for (int c = 0; c < FINITE - 1; c++) {
      double mid = (QuantDecoder.e4m3(c) + QuantDecoder.e4m3(c + 1)) / 2;
      addAround(xs, (float) mid);
      assertEquals(mid, (float) mid, "midpoint of " + hex(c) + " is a float");
    }
    addAround(xs, 464f);
    for (float x : xs) {
      check(x);
      check(-x);
    }
  }

  @Test
  void saturatesSignedZeroAndNan() {
    for (float x : new float[] {448f, 449f, 463.99f, 464f, 480f, 1e6f, Float.MAX_VALUE,
        Float.POSITIVE_INFINITY}) {
      assertEquals("0x7e", hex(E4m3.encode(x)), "saturation of " + x);
      assertEquals("0xfe", hex(E4m3.encode(-x)), "saturation of " + -x);
      if (Float.isFinite(x)) {
        check(x);
        check(-x);
      }
    }
    assertEquals("0x00", hex(E4m3.encode(0f)));
    assertEquals("0x80", hex(E4m3.encode(-0f)));
    assertEquals("0x00", hex(E4m3.encode(Float.MIN_VALUE)));
    assertEquals("0x80", hex(E4m3.encode(-0x1p-10f)), "a negative tie to zero keeps its sign");
    assertEquals("0x7f", hex(E4m3.encode(Float.NaN)));
    assertEquals("0x7f", hex(E4m3.encode(Float.intBitsToFloat(0xffc00001))), "negative NaN");
  }

  /**
   * Random floats: every exponent from far below the subnormals to far above 448, random
   * mantissas, both signs; and uniform values in the range a scaled cache row uses.
   */
  @Test
  void encodesRandomFloatsToTheNearestCode() {
    SplittableRandom r = new SplittableRandom(0xe4e3);
    for (int i = 0; i < 60_000; i++) {
      int exponent = r.nextInt(-20, 12) + 127;
      check(Float.intBitsToFloat(r.nextInt(2) << 31 | exponent << 23 | r.nextInt(1 << 23)));
    }
    for (int i = 0; i < 40_000; i++) {
      check((float) r.nextDouble(-450, 450));
      check((float) r.nextDouble(-0x1p-5, 0x1p-5));
    }
  }

  private static void addAround(List<Float> xs, float x) {
    xs.add(x);
    xs.add(Math.nextUp(x));
    xs.add(Math.nextDown(x));
  }

  private static void check(float x) {
    int want = nearest(x);
    int got = E4m3.encode(x) & 0xff;
    if (got != want) {
      fail("encode(" + x + " = " + Float.toHexString(x) + ") = " + hex(got) + " ("
          + QuantDecoder.e4m3(got) + "), nearest is " + hex(want) + " (" + QuantDecoder.e4m3(want)
          + ")");
    }
  }

  /** Brute force: the finite code of x's sign nearest to x, ties to the even code. */
  private static int nearest(float x) {
    int sign = Float.floatToRawIntBits(x) < 0 ? 0x80 : 0;
    int best = -1;
    double bestDistance = Double.POSITIVE_INFINITY;
    for (int c = sign; c < sign + FINITE; c++) {
      double d = Math.abs(x - VALUES[c]);
      if (d < bestDistance || d == bestDistance && (c & 1) == 0) {
        best = c;
        bestDistance = d;
      }
    }
    return best;
  }

  private static String hex(int code) {
    return String.format("0x%02x", code & 0xff);
  }
}
