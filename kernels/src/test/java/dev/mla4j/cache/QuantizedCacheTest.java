package dev.mla4j.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.oracle.QuantDecoder;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.Caches;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Quantized cache formats: exact sizes, what is stored (read by the oracle's decoder), errors. */
class QuantizedCacheTest {

  /**
   * Bytes per token and layer of one quantized row of width w, group g: int8 and fp8
   * w + 2·groups, int4 Σ ceil(m/2) + 2·groups over groups of m elements (the last one w mod g
   * when g does not divide w), one BF16 scale per group. Values worked out by hand.
   */
  @ParameterizedTest(name = "{0} L={1} g={2}")
  @CsvSource({
      "INT8, 512, 64, 528", "INT4, 512, 64, 272", "INT4, 512, 128, 264", "INT4, 512, 32, 288",
      "INT8, 48, 32, 52", "INT4, 48, 32, 28", "INT4, 33, 32, 21", "INT8, 33, 32, 37",
      "INT4, 96, 64, 52", "INT4, 7, 64, 6", "INT8, 1, 2, 3",
      "FP8, 512, 64, 528", "FP8, 48, 32, 52", "FP8, 33, 32, 37", "FP8, 1, 2, 3",
  })
  void latentBytesPerTokenIncludeScales(Quantization q, int latentDim, int group, long bytes) {
    MlaShape s = new MlaShape(2, 2, 0, latentDim, RopeKeyLayout.PER_KV_HEAD, 0.1f);
    CacheFormat f = new CacheFormat(DType.BF16, q, group, 0, false);
    try (LatentCache c = new LatentCache(s, 3, f, 1)) {
      assertEquals(3 * bytes, c.bytesPerToken());
    }
  }

  /**
   * The paper's shapes (spec 5.3): Llama-2-7B at d_kv 16 (32 layers, L 512, rope keys 32 x 16)
   * against its 524,288-byte BF16 MHA cache; the paper's −96.87% ignores scales.
   */
  @Test
  void llamaReductionsWithScales() {
    MlaShape s = MlaShape.mha2mla(32, 32, 128, 8, 16);
    try (LatentCache bf16Rope = new LatentCache(s, 32, CacheFormat.int4(64), 1);
        LatentCache allInt4 = new LatentCache(s, 32, CacheFormat.int4(128).withQuantizedRopeKeys(), 1);
        KvCache mhaInt4 = new KvCache(MhaShape.of(32, 32, 128), 32, CacheFormat.int4(64), 1)) {
      assertEquals(32 * (256 + 16 + 1024), bf16Rope.bytesPerToken());
      // rope keys: one 16-element group per kv head, 8 code bytes + a 2-byte scale
      assertEquals(32 * (256 + 8 + 32 * 10), allInt4.bytesPerToken());
      assertEquals(32 * 2 * 32 * (64 + 2 * 2), mhaInt4.bytesPerToken());
    }
  }

  /**
   * FP8 costs what int8 costs: one byte per element plus one BF16 scale per group, for the MLA
   * latent (rope keys plain or quantized) and for MHA K/V, whole caches of several layers.
   */
  @ParameterizedTest(name = "g={0}")
  @CsvSource({"64", "32", "6", "128"})
  void fp8BytesPerTokenEqualInt8(int group) {
    MlaShape mla = MlaShape.mha2mla(32, 32, 128, 8, 16);
    MlaShape odd = new MlaShape(3, 1, 7, 33, RopeKeyLayout.SHARED, 0.1f);
    MhaShape mha = MhaShape.of(9, 3, 130);
    for (boolean rope : new boolean[] {false, true}) {
      CacheFormat int8 = new CacheFormat(DType.BF16, Quantization.INT8, group, 5, rope);
      CacheFormat fp8 = new CacheFormat(DType.BF16, Quantization.FP8, group, 5, rope);
      for (MlaShape s : new MlaShape[] {mla, odd}) {
        try (LatentCache a = new LatentCache(s, 3, int8, 1);
            LatentCache b = new LatentCache(s, 3, fp8, 1)) {
          assertEquals(a.bytesPerToken(), b.bytesPerToken(), s + " rope quantized " + rope);
        }
      }
    }
    try (KvCache a = new KvCache(mha, 2, CacheFormat.int8(group), 1);
        KvCache b = new KvCache(mha, 2, CacheFormat.fp8(group), 1)) {
      assertEquals(a.bytesPerToken(), b.bytesPerToken());
    }
    // Llama-2-7B MHA at g64: 32 layers x K,V x 32 heads x (128 codes + 2 scales x 2 B)
    try (KvCache c = new KvCache(MhaShape.of(32, 32, 128), 32, CacheFormat.fp8(64), 1)) {
      assertEquals(32L * 2 * 32 * (128 + 2 * 2), c.bytesPerToken());
    }
  }

  @Test
  void badFormatsAreRefusedWithTheFix() {
    expect(IllegalArgumentException.class, "even",
        () -> new CacheFormat(DType.BF16, Quantization.INT4, 33, 0, false));
    expect(IllegalArgumentException.class, "even",
        () -> CacheFormat.int8(0));
    expect(IllegalArgumentException.class, "window must be >= 0",
        () -> CacheFormat.int8(32).withWindow(-1));
    expect(IllegalArgumentException.class, "use int8, int4 or fp8",
        () -> new CacheFormat(DType.BF16, Quantization.NONE, 32, 0, false));
    expect(IllegalArgumentException.class, "use F32, BF16, F16, INT8, INT4 or FP8",
        () -> CacheFormat.parse("int3", 32, 0, false));
    expect(IllegalArgumentException.class, "MLA option",
        () -> new KvCache(MhaShape.of(2, 2, 8), 1, CacheFormat.int4(8).withQuantizedRopeKeys(), 4));
    try (Arena arena = Arena.ofConfined();
        LatentCache c = new LatentCache(MlaShape.mha2mla(2, 2, 16, 2, 8), 1, CacheFormat.int8(8), 4)) {
      c.append(0, Tensor.allocate(arena, DType.F32, 1, 16), Tensor.allocate(arena, DType.F32, 1, 8));
      expect(IllegalStateException.class, "quantized (INT8): read it with quantizedBlock",
          () -> c.latentBlock(0, 0));
      expect(IllegalStateException.class, "no recent-token window", () -> c.latentWindow(0));
      expect(IllegalArgumentException.class, "must be [1][16]",
          () -> c.append(0, Tensor.allocate(arena, DType.F32, 1, 15),
              Tensor.allocate(arena, DType.F32, 1, 8)));
    }
    assertEquals(CacheFormat.int4(64), CacheFormat.parse("int4", 64, 0, false));
    assertEquals(CacheFormat.fp8(32).withWindow(7).withQuantizedRopeKeys(),
        CacheFormat.parse(" Fp8 ", 32, 7, true));
    assertEquals(CacheFormat.plain(DType.BF16), CacheFormat.parse("bf16", 64, 0, false));
  }

  /**
   * What is stored, decoded by the oracle: every code within [-qmax, qmax], each scale the
   * group's max|x| / qmax rounded up to BF16, every element within half a step of its input
   * (fp8: of its E4M3 binade at {@code x / scale}); the library's own row decoder (scalar
   * kernels) gives the same values.
   */
  @ParameterizedTest(name = "{0} L={1} g={2} rope={3}")
  @CsvSource({
      "INT8, 512, 32, 16", "INT4, 512, 64, 16", "INT4, 512, 128, 16", "INT8, 48, 32, 8",
      "INT4, 33, 32, 7", "INT4, 65, 6, 0", "INT8, 17, 40, 3",
      "FP8, 512, 64, 16", "FP8, 48, 32, 8", "FP8, 33, 32, 7", "FP8, 65, 6, 0",
  })
  void storedCodesAreWithinHalfAStep(Quantization q, int latentDim, int group, int ropeDim) {
    Seeds.Case c = Seeds.forCase("quant round trip " + q + latentDim + " " + group);
    MlaShape s = new MlaShape(3, 3, ropeDim, latentDim, RopeKeyLayout.PER_KV_HEAD, 0.1f);
    CacheFormat f = new CacheFormat(DType.BF16, q, group, 0, ropeDim > 0);
    int tokens = 70;
    try (Arena arena = Arena.ofConfined(); LatentCache cache = new LatentCache(s, 1, f, tokens)) {
      Tensor latent = Inputs.gaussian(arena, c, DType.F32, tokens, latentDim, 3);
      Tensor rope = Inputs.gaussian(arena, c, DType.F32, tokens, s.ropeKeyWidth(), 0.5);
      // a group of zeros: scale 0, codes 0
      for (int i = 0; i < Math.min(group, latentDim); i++) {
        latent.set(5, i, 0f);
      }
      cache.append(0, latent, rope);
      double[] x = TensorReader.read(latent);
      float[] row = new float[latentDim];
      for (int t = 0; t < tokens; t++) {
        QuantizedBlock b = cache.latentCodes(0, t / 64);
        checkGroups(q, QuantDecoder.groups(b, t % 64), x, t * latentDim, group, latentDim);
        double[] decoded = QuantDecoder.row(b, t % 64);
        cache.readLatent(0, t, row);
        assertArrayEquals(decoded, TensorReader.widen(row), 0, "library decode of token " + t);
      }
      if (ropeDim > 0) {
        double[] r = TensorReader.read(rope);
        for (int t = 0; t < tokens; t++) {
          QuantDecoder.Group[] g = QuantDecoder.groups(cache.ropeCodes(0, t / 64), t % 64);
          for (int h = 0; h < 3; h++) {
            int per = g.length / 3;
            QuantDecoder.Group[] head = java.util.Arrays.copyOfRange(g, h * per, (h + 1) * per);
            checkGroups(q, head, r, t * 3 * ropeDim + h * ropeDim, group, ropeDim);
          }
        }
      }
    }
  }

  /** Groups of one segment {@code x[off, off+len)} against their inputs. */
  private static void checkGroups(Quantization q, QuantDecoder.Group[] groups, double[] x, int off,
      int group, int len) {
    assertEquals((len + group - 1) / group, groups.length);
    for (int g = 0; g < groups.length; g++) {
      QuantDecoder.Group gr = groups[g];
      double absMax = 0;
      for (int i = 0; i < gr.codes().length; i++) {
        absMax = Math.max(absMax, Math.abs(x[off + g * group + i]));
      }
      assertEquals(Math.min(group, len - g * group), gr.codes().length);
      double exact = absMax / q.qmax();
      assertTrue(gr.scale() >= exact && gr.scale() <= exact * (1 + 0x1p-7),
          "scale " + gr.scale() + " for max|x| " + absMax);
      for (int i = 0; i < gr.codes().length; i++) {
        double code = gr.codes()[i];
        double xi = x[off + g * group + i];
        assertTrue(Math.abs(code) <= q.qmax(), "code " + code);
        double step = q == Quantization.FP8 ? fp8Step(xi / gr.scale()) : 1;
        double err = Math.abs(xi - code * gr.scale());
        assertTrue(err <= gr.scale() * step * 0.5000001, "error " + err + " above half a step "
            + gr.scale() * step / 2 + " at group " + g + " element " + i);
      }
    }
  }

  /**
   * Spacing of the E4M3 values around {@code y} (|y| <= 448): 2^(e-3) in the binade
   * [2^e, 2^(e+1)), e >= -6; 2^-9 among the subnormals below 2^-6.
   */
  private static double fp8Step(double y) {
    int e = Math.max(-6, Math.getExponent(y));
    return Math.scalb(1.0, e - 3);
  }

  /**
   * Recent-token window W = 5, tokens appended in chunks across it: positions in the window are
   * the BF16 inputs exactly (in the ring), older ones quantized from those BF16 values within
   * half a step; plain rope keys are never windowed.
   */
  @Test
  void windowKeepsTheLastTokensAndQuantizesThoseLeavingIt() {
    Seeds.Case c = Seeds.forCase("quant window");
    MlaShape s = MlaShape.mha2mla(2, 2, 16, 2, 16); // L 32, rope 2 x 4
    int w = 5;
    CacheFormat f = CacheFormat.int4(16).withWindow(w);
    try (Arena arena = Arena.ofShared(); LatentCache cache = new LatentCache(s, 1, f, 200)) {
      int[] chunks = {3, 1, 1, 2, 9, 1, 60, 4, 70};
      double[] bf16 = new double[200 * 32];
      int len = 0;
      for (int n : chunks) {
        Tensor latent = Inputs.gaussian(arena, c, DType.BF16, n, 32, 1);
        Tensor rope = Inputs.gaussian(arena, c, DType.BF16, n, 8, 1);
        cache.append(0, latent, rope);
        System.arraycopy(TensorReader.read(latent), 0, bf16, len * 32, n * 32);
        len += n;
        assertEquals(Math.max(0, len - w), cache.quantizedLength(0));
        double[] stored = Caches.latents(cache, 0, len);
        for (int pos = 0; pos < len; pos++) {
          for (int i = 0; i < 32; i++) {
            double want = bf16[pos * 32 + i];
            double got = stored[pos * 32 + i];
            if (pos >= len - w) {
              assertEquals(want, got, 0, "window token " + pos + " after " + len);
            } else {
              QuantDecoder.Group g = QuantDecoder.groups(cache.latentCodes(0, pos / 64), pos % 64)[i / 16];
              assertEquals(want, got, g.scale() * 0.5000001, "quantized token " + pos);
            }
          }
        }
      }
    }
  }

  static void expect(Class<? extends Throwable> type, String message, Executable e) {
    Throwable t = assertThrows(type, e);
    assertTrue(t.getMessage().contains(message), "message '" + t.getMessage() + "' lacks '" + message + "'");
  }
}
