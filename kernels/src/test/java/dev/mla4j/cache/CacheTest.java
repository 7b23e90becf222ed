package dev.mla4j.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.oracle.AttentionOracle;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.Caches;
import dev.mla4j.testing.Conformance;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** Cache sizes (spec 5.1/5.3), error reporting, paging and causality. */
class CacheTest {

  /** Spec 5.3: BF16 bytes per token over all layers, MLA vs the MHA/GQA original. */
  @ParameterizedTest(name = "layers={0} n_h={1} n_kv={2} d_h={3} r={4} d_kv={5}")
  @CsvSource({
      "30, 9, 3, 64, 4, 32, 7200, 23040", "30, 9, 3, 64, 4, 16, 4320, 23040",
      "30, 9, 3, 64, 4, 8, 2880, 23040", "32, 15, 5, 64, 4, 32, 12800, 40960",
      "32, 15, 5, 64, 4, 16, 7680, 40960", "32, 15, 5, 64, 4, 8, 5120, 40960",
      "24, 32, 32, 64, 4, 32, 61440, 196608", "24, 32, 32, 64, 4, 16, 36864, 196608",
      "24, 32, 32, 64, 4, 8, 24576, 196608", "32, 32, 32, 128, 8, 64, 163840, 524288",
      "32, 32, 32, 128, 8, 32, 98304, 524288", "32, 32, 32, 128, 8, 16, 65536, 524288",
  })
  void bytesPerTokenMatchSpecTable(int layers, int heads, int kvHeads, int headDim, int r, int dKv,
      long mlaBytes, long mhaBytes) {
    try (LatentCache mla = new LatentCache(MlaShape.mha2mla(heads, kvHeads, headDim, r, dKv),
        layers, DType.BF16, 1);
        KvCache mha = new KvCache(MhaShape.of(heads, kvHeads, headDim), layers, DType.BF16, 1)) {
      assertEquals(mlaBytes, mla.bytesPerToken());
      assertEquals(mhaBytes, mha.bytesPerToken());
    }
  }

  @Test
  void deepSeekV2SharedRopeKeyCache() {
    // 60 layers x (512 latent + one shared 64-d rope key) x 2 bytes = 69,120 B (spec 8.1)
    MlaShape s = new MlaShape(128, 128, 64, 512, RopeKeyLayout.SHARED, 0.1147f);
    try (LatentCache c = new LatentCache(s, 60, DType.BF16, 1)) {
      assertEquals(69_120, c.bytesPerToken());
    }
    try (LatentCache c = new LatentCache(s, 60, DType.F32, 1)) {
      assertEquals(138_240, c.bytesPerToken());
    }
  }

  @Test
  void userErrorsNameTheProblem() {
    MlaShape s = MlaShape.mha2mla(4, 2, 16, 2, 8);
    try (Arena arena = Arena.ofShared(); Backend b = Backends.scalar(1)) {
      Seeds.Case c = Seeds.forCase("cache errors");
      LatentCache cache = new LatentCache(s, 2, DType.BF16, 10);
      Caches.fill(arena, c, cache, 0, 8, 0);
      expect(IllegalStateException.class, "overflow", () -> cache.append(0,
          Inputs.gaussian(arena, c, DType.F32, 3, 16, 1), Inputs.gaussian(arena, c, DType.F32, 3, 8, 1)));
      expect(IllegalArgumentException.class, "[1][16]", () -> cache.append(0,
          Inputs.gaussian(arena, c, DType.F32, 1, 15, 1), Inputs.gaussian(arena, c, DType.F32, 1, 8, 1)));
      expect(IndexOutOfBoundsException.class, "layer 2", () -> cache.length(2));
      expect(IndexOutOfBoundsException.class, "no block 1", () -> cache.latentBlock(0, 1));

      Tensor qRope = Tensor.allocate(arena, DType.F32, 4, 4);
      Tensor qLatent = Tensor.allocate(arena, DType.F32, 4, 16);
      Tensor out = Tensor.allocate(arena, DType.F32, 4, 16);
      expect(IllegalArgumentException.class, "not cached",
          () -> b.mlaAttention(s, qRope, qLatent, cache, 0, 8, out));
      expect(IllegalArgumentException.class, "not cached",
          () -> b.mlaAttention(s, qRope, qLatent, cache, 0, -1, out));
      expect(IllegalArgumentException.class, "not cached",
          () -> b.mlaAttention(s, qRope, qLatent, cache, 1, 0, out));
      expect(IllegalArgumentException.class, "qLatent", () -> b.mlaAttention(s, qRope,
          Tensor.allocate(arena, DType.F32, 4, 15), cache, 0, 0, out));
      expect(IllegalArgumentException.class, "made for", () -> b.mlaAttention(
          MlaShape.mha2mla(4, 2, 16, 2, 7), qRope, qLatent, cache, 0, 0, out));

      cache.close();
      expect(IllegalStateException.class, "closed", () -> cache.append(0,
          Inputs.gaussian(arena, c, DType.F32, 1, 16, 1), Inputs.gaussian(arena, c, DType.F32, 1, 8, 1)));
      expect(IllegalStateException.class, "closed", () -> cache.latentBlock(0, 0));
      expect(IllegalStateException.class, "closed",
          () -> b.mlaAttention(s, qRope, qLatent, cache, 0, 0, out));
    }
  }

  @Test
  void kvCacheErrorsNameTheProblem() {
    MhaShape s = MhaShape.of(4, 2, 8);
    try (Arena arena = Arena.ofShared(); Backend b = Backends.scalar(1)) {
      Seeds.Case c = Seeds.forCase("kv cache errors");
      KvCache cache = new KvCache(s, 1, DType.F16, 5);
      Caches.fill(arena, c, cache, 0, 5, 0);
      expect(IllegalStateException.class, "overflow", () -> Caches.fill(arena, c, cache, 0, 1, 0));
      Tensor q = Tensor.allocate(arena, DType.F32, 8, 8);
      expect(IllegalArgumentException.class, "not cached",
          () -> b.mhaAttention(s, q, cache, 0, 4, Tensor.allocate(arena, DType.F32, 8, 8)));
      expect(IllegalArgumentException.class, "made for", () -> b.mhaAttention(MhaShape.of(4, 4, 8),
          q, cache, 0, 0, Tensor.allocate(arena, DType.F32, 8, 8)));
      cache.close();
      expect(IllegalStateException.class, "closed", () -> cache.keyBlock(0, 0));
    }
    expect(IllegalArgumentException.class, "maxTokens", () -> new KvCache(s, 1, DType.F32, 0));
  }

  /** Tokens appended in uneven chunks across many blocks come back intact, rounded once. */
  @ParameterizedTest
  @EnumSource(DType.class)
  void pagingKeepsData(DType dtype) {
    Seeds.Case c = Seeds.forCase("paging " + dtype);
    MlaShape s = MlaShape.mha2mla(6, 3, 32, 3, 5);
    int tokens = 333;
    try (Arena arena = Arena.ofShared(); LatentCache cache = new LatentCache(s, 2, dtype, tokens)) {
      Tensor latent = Inputs.gaussian(arena, c, DType.F32, tokens, s.latentDim(), 3);
      Tensor rope = Inputs.gaussian(arena, c, DType.F32, tokens, s.ropeKeyWidth(), 3);
      int done = 0;
      while (done < tokens) {
        int n = Math.min(tokens - done, 1 + c.nextInt(100));
        cache.append(1, latent.rows(done, n), rope.rows(done, n));
        done += n;
      }
      assertEquals(tokens, cache.length(1));
      assertEquals(0, cache.length(0));
      assertStored(TensorReader.read(latent), Caches.latents(cache, 1, tokens), dtype, c);
      assertStored(TensorReader.read(rope), Caches.ropeKeys(cache, 1, tokens), dtype, c);
      cache.clear();
      assertEquals(0, cache.length(1));
    }
  }

  private static void assertStored(double[] src, double[] stored, DType dtype, Seeds.Case c) {
    for (int i = 0; i < src.length; i++) {
      double bound = dtype.epsilon() * Math.abs(src[i]) + (dtype == DType.F16 ? 0x1p-25 : 0);
      assertTrue(Math.abs(stored[i] - src[i]) <= bound,
          "element " + i + ": stored " + stored[i] + " for " + src[i] + " in " + dtype + " " + c);
    }
  }

  /**
   * Tokens cached after the queries' positions hold NaN latents/values and huge keys; every
   * backend's output must still match the oracle over the visible tokens only.
   */
  @ParameterizedTest
  @CsvSource({"1, 70, 1", "4, 60, 2", "1, 600, 2"})
  void futureTokensDoNotLeak(int tokens, int first, int threads) {
    Seeds.Case c = Seeds.forCase("causality " + tokens + " " + first);
    int ctx = first + tokens;
    int poisoned = 20;
    MlaShape s = MlaShape.mha2mla(4, 2, 16, 2, 8);
    MhaShape m = MhaShape.of(4, 2, 16);
    try (Arena arena = Arena.ofShared();
        LatentCache latent = new LatentCache(s, 1, DType.BF16, ctx + poisoned);
        KvCache kv = new KvCache(m, 1, DType.BF16, ctx + poisoned)) {
      Caches.fill(arena, c, latent, 0, ctx, poisoned);
      Caches.fill(arena, c, kv, 0, ctx, poisoned);
      int rows = tokens * s.heads();
      Tensor qRope = Inputs.gaussian(arena, c, DType.F32, rows, s.ropeDim(), 0.5);
      Tensor qLatent = Inputs.gaussian(arena, c, DType.F32, rows, s.latentDim(), 0.5);
      double[] latents = Caches.latents(latent, 0, ctx);
      double[] ref = AttentionOracle.mlaAbsorbed(TensorReader.read(qRope),
          TensorReader.read(qLatent), Caches.ropeKeys(latent, 0, ctx), latents,
          s.heads(), s.kvHeads(), s.ropeDim(), s.latentDim(), false, first, s.softmaxScale());
      Conformance.check("mla causality", c, threads, ref,
          ErrorCheck.attentionFloor(s.ropeDim() + s.latentDim() + ctx, ref, latents), b -> {
            Tensor out = Inputs.nanFilled(arena, DType.F32, rows, s.latentDim());
            b.mlaAttention(s, qRope, qLatent, latent, 0, first, out);
            return Inputs.floats(out);
          });
      Tensor q = Inputs.gaussian(arena, c, DType.F32, rows, m.headDim(), 0.5);
      double[] values = Caches.values(kv, 0, ctx);
      double[] mhaRef = AttentionOracle.mha(TensorReader.read(q), Caches.keys(kv, 0, ctx), values,
          m.heads(), m.kvHeads(), m.headDim(), first, m.softmaxScale());
      Conformance.check("mha causality", c, threads, mhaRef,
          ErrorCheck.attentionFloor(m.headDim() + ctx, mhaRef, values), b -> {
            Tensor out = Inputs.nanFilled(arena, DType.F32, rows, m.headDim());
            b.mhaAttention(m, q, kv, 0, first, out);
            return Inputs.floats(out);
          });
    }
  }

  private static void expect(Class<? extends Throwable> type, String fragment, Executable call) {
    Throwable e = assertThrows(type, call);
    assertTrue(e.getMessage() != null && e.getMessage().contains(fragment),
        "message should name '" + fragment + "': " + e.getMessage());
  }
}
