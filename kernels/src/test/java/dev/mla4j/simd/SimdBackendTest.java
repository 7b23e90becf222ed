package dev.mla4j.simd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.attention.SoftmaxState;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.rope.PairLayout;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.rope.RopeFrequencies;
import dev.mla4j.rope.RopeScaling;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * SIMD kernels against double-precision references computed here from the stored values, and
 * against the scalar backend, over odd sizes so vector tails and padding run at every width.
 */
@Tag("simd")
class SimdBackendTest {
  private static final Backend SIMD = new SimdBackend(2);
  private static final Backend SCALAR = Backends.scalar(2);
  private final Arena arena = Arena.ofAuto();
  private final Random random = new Random(42);

  @AfterAll
  static void close() {
    SIMD.close();
    SCALAR.close();
  }

  @Test
  void describesItself() {
    assertEquals("simd", SIMD.name());
    assertTrue(SIMD.description().contains(SimdBackend.vectorBitSize() + "-bit"),
        SIMD.description());
  }

  // ---- linear

  @Test
  void linearMatchesDoubleReferenceOverOddSizesAndStridedViews() {
    for (DType dt : DType.values()) {
      for (int in : new int[] {1, 7, 17, 64, 129}) {
        for (int tokens : new int[] {1, 2, 5, 19}) {
          int out = 37;
          Tensor x = random(DType.F32, tokens, in + 3).cols(2, in);
          Tensor w = random(dt, out + 2, in + 1).rows(1, out).cols(1, in);
          Tensor y = Tensor.allocate(arena, DType.F32, tokens, out + 5).cols(3, out);
          SIMD.linear(x, w, y);
          for (int t = 0; t < tokens; t++) {
            for (int o = 0; o < out; o++) {
              double ref = 0;
              for (int i = 0; i < in; i++) {
                ref += (double) x.get(t, i) * w.get(o, i);
              }
              assertEquals(ref, y.get(t, o), 1e-5 * in, dt + " in=" + in + " T=" + tokens);
            }
          }
        }
      }
    }
  }

  @Test
  void linearTransposedMatchesDoubleReference() {
    for (DType dt : DType.values()) {
      for (int in : new int[] {1, 9, 33, 70}) {
        for (int tokens : new int[] {1, 4, 7}) {
          int out = 23;
          Tensor x = random(DType.F32, tokens, out + 1).cols(1, out);
          Tensor w = random(dt, out, in + 2).cols(2, in);
          Tensor y = Tensor.allocate(arena, DType.F32, tokens, in + 1).cols(1, in);
          SIMD.linearTransposed(x, w, y);
          for (int t = 0; t < tokens; t++) {
            for (int i = 0; i < in; i++) {
              double ref = 0;
              for (int o = 0; o < out; o++) {
                ref += (double) x.get(t, o) * w.get(o, i);
              }
              assertEquals(ref, y.get(t, i), 1e-5 * out, dt + " in=" + in + " T=" + tokens);
            }
          }
        }
      }
    }
  }

  // ---- rope

  @Test
  void ropeIsBitIdenticalToScalar() {
    RopeFrequencies f = RopeFrequencies.of(64, 10000, RopeScaling.none());
    for (PairLayout layout : PairLayout.values()) {
      for (int r : new int[] {1, 3, 8, 13}) {
        int kvHeads = 3;
        int[][][] kept = new int[2][kvHeads][r];
        for (int j = 0; j < kvHeads; j++) {
          for (int m = 0; m < r; m++) {
            kept[1][j][m] = m * 2 + j;
            kept[0][j][m] = m;
          }
        }
        PartialRope rope = new PartialRope(f, layout, kept);
        int heads = 6;
        Tensor a = random(DType.F32, 4, heads * 2 * r);
        Tensor b = Tensor.copyOf(arena, DType.F32, 4, heads * 2 * r, a.toFloatArray());
        int[] positions = {0, 7, 1000, 40000};
        SIMD.rope(a, positions, rope, 1);
        SCALAR.rope(b, positions, rope, 1);
        assertArrayEquals(b.toFloatArray(), a.toFloatArray(), layout + " r=" + r);
      }
    }
  }

  // ---- MLA

  @Test
  void mlaMatchesScalarBackendForDecodeAndPrefill() {
    MlaShape[] shapes = {
        new MlaShape(5, 1, 6, 37, RopeKeyLayout.SHARED, 0.17f),
        new MlaShape(6, 3, 4, 33, RopeKeyLayout.PER_KV_HEAD, 0.2f),
        new MlaShape(3, 3, 0, 19, RopeKeyLayout.PER_KV_HEAD, 0.3f),
        new MlaShape(8, 2, 18, 64, RopeKeyLayout.PER_KV_HEAD, 0.125f)};
    for (MlaShape s : shapes) {
      for (DType dt : DType.values()) {
        int length = 200;
        try (LatentCache cache = new LatentCache(s, 1, dt, length)) {
          cache.append(0, random(DType.F32, length, s.latentDim()),
              random(DType.F32, length, s.ropeKeyWidth()));
          for (int tokens : new int[] {1, 3, 20}) {
            int first = length - tokens;
            Tensor qr = random(DType.F32, tokens * s.heads(), s.ropeDim());
            Tensor ql = random(DType.F32, tokens * s.heads(), s.latentDim());
            Tensor a = Tensor.allocate(arena, DType.F32, tokens * s.heads(), s.latentDim());
            Tensor b = Tensor.allocate(arena, DType.F32, tokens * s.heads(), s.latentDim());
            SIMD.mlaAttention(s, qr, ql, cache, 0, first, a);
            SCALAR.mlaAttention(s, qr, ql, cache, 0, first, b);
            assertClose(b.toFloatArray(), a.toFloatArray(), 2e-5,
                s + " " + dt + " T=" + tokens);
          }
        }
      }
    }
  }

  /** A range ending mid-block, with NaN in every cached slot past it and before it. */
  @Test
  void mlaKernelReadsOnlyItsRange() {
    MlaShape s = new MlaShape(4, 2, 10, 41, RopeKeyLayout.PER_KV_HEAD, 0.2f);
    int length = 190;
    int from = 64;
    int to = 150;
    float[] latent = values(length * s.latentDim());
    float[] rope = values(length * s.ropeKeyWidth());
    poison(latent, s.latentDim(), from, to);
    poison(rope, s.ropeKeyWidth(), from, to);
    try (LatentCache cache = new LatentCache(s, 1, DType.F32, length)) {
      cache.append(0, Tensor.copyOf(arena, DType.F32, length, s.latentDim(), latent),
          Tensor.copyOf(arena, DType.F32, length, s.ropeKeyWidth(), rope));
      int tokens = 3;
      int first = 147; // rows of the last token (position 149) see the whole range
      int rows = tokens * s.heads();
      float[] qr = values(rows * s.ropeDim());
      float[] ql = values(rows * s.latentDim());
      SoftmaxState state = new SoftmaxState(rows, s.latentDim());
      new SimdMlaAttention().attend(s, Tensor.copyOf(arena, DType.F32, rows, s.ropeDim(), qr),
          Tensor.copyOf(arena, DType.F32, rows, s.latentDim(), ql), first, cache, 0, from, to,
          state);
      for (int row = 0; row < rows; row++) {
        int h = row % s.heads();
        int visibleEnd = Math.min(to, first + row / s.heads() + 1);
        double[] scores = new double[visibleEnd - from];
        for (int pos = from; pos < visibleEnd; pos++) {
          double sc = 0;
          for (int i = 0; i < s.ropeDim(); i++) {
            sc += qr[row * s.ropeDim() + i]
                * rope[pos * s.ropeKeyWidth() + s.ropeKeyOffset(h) + i];
          }
          for (int i = 0; i < s.latentDim(); i++) {
            sc += ql[row * s.latentDim() + i] * latent[pos * s.latentDim() + i];
          }
          scores[pos - from] = sc * s.softmaxScale();
        }
        checkRow(state, row, scores, pos -> latent, from, s.latentDim());
      }
    }
  }

  // ---- MHA

  @Test
  void mhaMatchesScalarBackendForDecodeAndPrefill() {
    MhaShape[] shapes = {MhaShape.of(4, 4, 19), MhaShape.of(6, 2, 40), MhaShape.of(8, 1, 64)};
    for (MhaShape s : shapes) {
      for (DType dt : DType.values()) {
        int length = 180;
        try (KvCache cache = new KvCache(s, 1, dt, length)) {
          cache.append(0, random(DType.F32, length, s.kvWidth()),
              random(DType.F32, length, s.kvWidth()));
          for (int tokens : new int[] {1, 2, 20}) {
            int first = length - tokens;
            Tensor q = random(DType.F32, tokens * s.heads(), s.headDim());
            Tensor a = Tensor.allocate(arena, DType.F32, tokens * s.heads(), s.headDim());
            Tensor b = Tensor.allocate(arena, DType.F32, tokens * s.heads(), s.headDim());
            SIMD.mhaAttention(s, q, cache, 0, first, a);
            SCALAR.mhaAttention(s, q, cache, 0, first, b);
            assertClose(b.toFloatArray(), a.toFloatArray(), 2e-5, s + " " + dt + " T=" + tokens);
          }
        }
      }
    }
  }

  @Test
  void mhaKernelReadsOnlyItsRange() {
    for (DType dt : new DType[] {DType.F32, DType.BF16}) {
      for (int dh : new int[] {21, 32}) { // 32: the paired BF16 path at every width
        mhaRange(MhaShape.of(6, 3, dh), dt);
      }
    }
  }

  private void mhaRange(MhaShape s, DType dt) {
    int length = 140;
    int from = 64;
    int to = 101;
    int w = s.kvWidth();
    float[] keys = rounded(values(length * w), dt);
    float[] vals = rounded(values(length * w), dt);
    poison(keys, w, from, to);
    poison(vals, w, from, to);
    try (KvCache cache = new KvCache(s, 1, dt, length)) {
      cache.append(0, Tensor.copyOf(arena, DType.F32, length, w, keys),
          Tensor.copyOf(arena, DType.F32, length, w, vals));
      int tokens = 2;
      int first = 99;
      int rows = tokens * s.heads();
      float[] q = values(rows * s.headDim());
      SoftmaxState state = new SoftmaxState(rows, s.headDim());
      new SimdMhaAttention().attend(s, Tensor.copyOf(arena, DType.F32, rows, s.headDim(), q),
          first, cache, 0, from, to, state);
      for (int row = 0; row < rows; row++) {
        int col = (row % s.heads()) / s.groupSize() * s.headDim();
        int visibleEnd = Math.min(to, first + row / s.heads() + 1);
        double[] scores = new double[visibleEnd - from];
        for (int pos = from; pos < visibleEnd; pos++) {
          double sc = 0;
          for (int i = 0; i < s.headDim(); i++) {
            sc += q[row * s.headDim() + i] * keys[pos * w + col + i];
          }
          scores[pos - from] = sc * s.softmaxScale();
        }
        float[] shifted = Arrays.copyOfRange(vals, col, vals.length);
        checkRow(state, row, scores, pos -> shifted, from, w);
      }
    }
  }

  private static float[] rounded(float[] v, DType dt) {
    for (int i = 0; i < v.length; i++) {
      v[i] = dt.round(v[i]);
    }
    return v;
  }

  // ---- helpers

  private interface ValueSource {
    float[] values(int pos);
  }

  /**
   * Checks one state row against an exact softmax over {@code scores} (positions from, from+1,
   * ...): the normalised output (value of position p is {@code v[p·stride + i]}) and log-sum-exp.
   */
  private static void checkRow(SoftmaxState st, int row, double[] scores, ValueSource v, int from,
      int stride) {
    double max = Arrays.stream(scores).max().orElseThrow();
    double sum = 0;
    double[] out = new double[st.width];
    for (int k = 0; k < scores.length; k++) {
      double e = Math.exp(scores[k] - max);
      sum += e;
      float[] val = v.values(from + k);
      for (int i = 0; i < st.width; i++) {
        out[i] += e * val[(from + k) * stride + i];
      }
    }
    assertEquals(max + Math.log(sum), st.max[row] + Math.log(st.sum[row]), 1e-4, "lse row " + row);
    for (int i = 0; i < st.width; i++) {
      assertEquals(out[i] / sum, st.acc[row * st.width + i] / st.sum[row], 1e-5,
          "row " + row + " col " + i);
    }
  }

  private static void poison(float[] rows, int width, int from, int to) {
    Arrays.fill(rows, 0, from * width, Float.NaN);
    Arrays.fill(rows, to * width, rows.length, Float.NaN);
  }

  private static void assertClose(float[] expected, float[] actual, double tol, String what) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], tol, what + " element " + i);
    }
  }

  private float[] values(int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = random.nextFloat() * 2 - 1;
    }
    return v;
  }

  private Tensor random(DType dt, int rows, int cols) {
    return Tensor.copyOf(arena, dt, rows, cols, values(rows * cols));
  }
}
