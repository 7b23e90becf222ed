package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.BackendCases;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link MlaNaivePrefill} against a double-precision oracle of the naive form (spec 4.1) written
 * here from its formulas: K_j(τ) = [k_R | W_uk,j·c(τ)], V_j(τ) = W_uv,j·c(τ), causal softmax
 * attention with the shape's scale, all in double from the same BF16/F16 values. The device
 * rounds K_N and V to the cache type and Q and P to it for the MMA, so the bound is the
 * tensor-core one of CudaBackendTest, 8·eps of the output's largest magnitude (eps = 2^-8 for
 * BF16, 2^-11 for F16, scaled here by 2 for the extra rounding of K and V); a wrong head, column
 * or key gives errors of the order of the output.
 */
@Tag("gpu")
class MlaNaivePrefillTest {
  private static CudaContext ctx;

  @BeforeAll
  static void needsGpu() {
    BackendCases.assumeCuda();
    ctx = CudaContext.get();
    CublasHandle.unavailableReason().ifPresent(why -> org.junit.jupiter.api.Assumptions
        .assumeTrue(false, "cuBLAS unavailable: " + why));
  }

  /**
   * MHA2MLA shapes: GQA group 2 with d_h 64 and d_r 8 (two row tiles per kv head); group 8 with
   * d_h 128 and a chunk that is the whole sequence (keys from position 0, every row masked
   * differently); MHA with an F16 cache and a long context (split-KV).
   */
  @ParameterizedTest
  @CsvSource({"8,4,64,4,16,BF16,40,1000", "16,2,128,8,32,BF16,20,20", "16,2,128,8,32,BF16,20,700",
      "8,8,128,4,8,F16,64,3000"})
  void matchesTheNaiveFormInDouble(int heads, int kvHeads, int headDim, int r, int dKv,
      DType dtype, int tokens, int len) {
    MlaShape s = MlaShape.mha2mla(heads, kvHeads, headDim, r, dKv);
    check(s, MlaNaivePrefill.Dims.mha2mla(s, headDim), dtype, tokens, len);
  }

  /**
   * DeepSeek's layout: one shared 64-d rope key copied into every query head's K, each query
   * head its own W_uk (128 rows) and W_uv, so keys of 192 and values of 128 (the d192_v128
   * kernel instance), scale 1/sqrt(192).
   */
  @ParameterizedTest
  @CsvSource({"BF16,64,900", "F16,30,30"})
  void deepSeekLayoutMatchesTheNaiveFormInDouble(DType dtype, int tokens, int len) {
    MlaShape s = new MlaShape(16, 1, 64, 128, RopeKeyLayout.SHARED, (float) (1 / Math.sqrt(192)));
    check(s, new MlaNaivePrefill.Dims(16, 128, 128), dtype, tokens, len);
  }

  private void check(MlaShape s, MlaNaivePrefill.Dims dims, DType dtype, int tokens, int len) {
    Seeds.Case c = Seeds.forCase("naive prefill " + s + " " + dims + " " + dtype + " T=" + tokens
        + " " + len);
    int heads = s.heads();
    int ne = dims.heads();
    int l = s.latentDim();
    int dk = s.ropeDim() + dims.nope();
    int dv = dims.value();
    int first = len - tokens;
    int rows = tokens * heads;
    int blocks = (len + PagedLayers.BLOCK_TOKENS - 1) / PagedLayers.BLOCK_TOKENS;
    int poolBlocks = blocks + 3;  // scattered over a larger pool
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < poolBlocks; i++) {
      ids.add(i);
    }
    Collections.shuffle(ids, new Random(c.seed()));
    int[] table = ids.subList(0, blocks).stream().mapToInt(Integer::intValue).toArray();
    try (Arena arena = Arena.ofShared(); CudaStream st = ctx.newStream();
        CublasHandle blas = CublasHandle.open(ctx, st);
        DevicePagedCache cache = new DevicePagedCache(ctx, dtype, poolBlocks, l, s.ropeKeyWidth())) {
      Tensor latent = Inputs.gaussian(arena, c, dtype, len, l, 1);
      Tensor rope = Inputs.gaussian(arena, c, dtype, len, s.ropeKeyWidth(), 1);
      Tensor wUk = Inputs.gaussian(arena, c, dtype, ne * dims.nope(), l, 1 / Math.sqrt(l));
      Tensor wUv = Inputs.gaussian(arena, c, dtype, ne * dv, l, 1 / Math.sqrt(l));
      Tensor q = Inputs.gaussian(arena, c, DType.F32, rows, dk, 1);
      MemorySegment staging = arena.allocate(cache.blockBytes() * poolBlocks, 16);
      for (int tau = 0; tau < len; tau++) {
        long block = table[tau / PagedLayers.BLOCK_TOKENS] * cache.blockBytes();
        int slot = tau % PagedLayers.BLOCK_TOKENS;
        MemorySegment.copy(latent.data(), latent.offset(tau, 0), staging,
            block + cache.partOffset(0) + (long) slot * l * dtype.bytes(), (long) l * dtype.bytes());
        MemorySegment.copy(rope.data(), rope.offset(tau, 0), staging, block + cache.partOffset(1)
            + (long) slot * s.ropeKeyWidth() * dtype.bytes(), (long) s.ropeKeyWidth() * dtype.bytes());
      }
      cache.pool().upload(st, staging, 0);
      try (MlaNaivePrefill plan = new MlaNaivePrefill(ctx, st, s, dims, cache, tokens, len);
          DeviceBuffer dTable = DeviceData.ints(ctx, arena, st, table);
          DeviceBuffer dFirst = DeviceData.ints(ctx, arena, st, new int[] {first});
          DeviceBuffer dUk = DeviceData.floats(ctx, arena, st, List.of(wUk));
          DeviceBuffer dUv = DeviceData.floats(ctx, arena, st, List.of(wUv));
          DeviceBuffer dq = DeviceData.floats(ctx, arena, st, List.of(q));
          DeviceBuffer out = ctx.allocate(4L * rows * dv)) {
        out.fill32(st, Float.floatToRawIntBits(Float.NaN));
        plan.launch(st, blas, dUk.pointer(), dUv.pointer(), dq.pointer(), dTable.pointer(), len,
            dFirst.pointer(), out.pointer());
        MemorySegment got = DeviceData.download(arena, st, out);
        double[][] ref = oracle(s, dims, latent, rope, wUk, wUv, q, tokens, first);
        double maxErr = 0;
        double maxRef = 0;
        for (int row = 0; row < rows; row++) {
          for (int e = 0; e < dv; e++) {
            float y = got.getAtIndex(ValueLayout.JAVA_FLOAT, (long) row * dv + e);
            assertTrue(Float.isFinite(y), "non-finite output at row " + row + " column " + e);
            maxErr = Math.max(maxErr, Math.abs(y - ref[row][e]));
            maxRef = Math.max(maxRef, Math.abs(ref[row][e]));
          }
        }
        double eps = dtype == DType.BF16 ? Math.pow(2, -8) : Math.pow(2, -11);
        System.out.printf("%s %s %s T=%d keys=%d: max error %.3g of max %.3g%n", plan.kernel(), s,
            dtype, tokens, len, maxErr, maxRef);
        assertTrue(maxErr <= 16 * eps * maxRef, plan.kernel() + ": max error " + maxErr
            + " vs max " + maxRef);
      }
    }
  }

  /** The naive form in double: o[(t, h)][d_v]. */
  private static double[][] oracle(MlaShape s, MlaNaivePrefill.Dims dims, Tensor latent,
      Tensor rope, Tensor wUk, Tensor wUv, Tensor q, int tokens, int first) {
    int ne = dims.heads();
    int group = s.heads() / ne;
    int l = s.latentDim();
    int dr = s.ropeDim();
    int nope = dims.nope();
    int dk = dr + nope;
    int dv = dims.value();
    int keys = first + tokens;
    double[][][] k = new double[ne][keys][dk];
    double[][][] v = new double[ne][keys][dv];
    for (int j = 0; j < ne; j++) {
      int ropeCol = s.ropeKeys() == RopeKeyLayout.SHARED ? 0 : j * dr;
      for (int tau = 0; tau < keys; tau++) {
        for (int e = 0; e < dr; e++) {
          k[j][tau][e] = rope.get(tau, ropeCol + e);
        }
        for (int e = 0; e < nope; e++) {
          double sum = 0;
          for (int x = 0; x < l; x++) {
            sum += (double) wUk.get(j * nope + e, x) * latent.get(tau, x);
          }
          k[j][tau][dr + e] = sum;
        }
        for (int e = 0; e < dv; e++) {
          double sum = 0;
          for (int x = 0; x < l; x++) {
            sum += (double) wUv.get(j * dv + e, x) * latent.get(tau, x);
          }
          v[j][tau][e] = sum;
        }
      }
    }
    double[][] out = new double[tokens * s.heads()][dv];
    for (int t = 0; t < tokens; t++) {
      for (int h = 0; h < s.heads(); h++) {
        int row = t * s.heads() + h;
        int j = h / group;
        int visible = first + t + 1;
        double[] score = new double[visible];
        double max = Double.NEGATIVE_INFINITY;
        for (int tau = 0; tau < visible; tau++) {
          double dot = 0;
          for (int e = 0; e < dk; e++) {
            dot += q.get(row, e) * k[j][tau][e];
          }
          score[tau] = dot * s.softmaxScale();
          max = Math.max(max, score[tau]);
        }
        double z = 0;
        for (int tau = 0; tau < visible; tau++) {
          score[tau] = Math.exp(score[tau] - max);
          z += score[tau];
        }
        for (int tau = 0; tau < visible; tau++) {
          for (int e = 0; e < dv; e++) {
            out[row][e] += score[tau] / z * v[j][tau][e];
          }
        }
      }
    }
    return out;
  }

  @Test
  void refusesShapesAndCachesItCannotRun() {
    MlaShape s = MlaShape.mha2mla(8, 4, 64, 4, 16);
    MlaNaivePrefill.Dims ok = MlaNaivePrefill.Dims.mha2mla(s, 64);
    try (CudaStream st = ctx.newStream();
        DevicePagedCache plain = new DevicePagedCache(ctx, DType.BF16, 2, s.latentDim(),
            s.ropeKeyWidth());
        DevicePagedCache quantized = new DevicePagedCache(ctx, DType.BF16, 2,
            DevicePagedCache.Part.quantized(new QuantizedLayout(CacheFormat.int8(32)
                .quantization(), 1, s.latentDim(), 32)),
            DevicePagedCache.Part.plain(s.ropeKeyWidth()))) {
      var e = assertThrows(IllegalArgumentException.class, () -> new MlaNaivePrefill(ctx, st, s,
          MlaNaivePrefill.Dims.mha2mla(s, 96), plain, 16, 100));
      assertTrue(e.getMessage().contains("got d_k 96"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> new MlaNaivePrefill(ctx, st, s, ok, quantized, 16, 100));
      assertTrue(e.getMessage().contains("two plain parts"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> new MlaNaivePrefill(ctx, st, s, new MlaNaivePrefill.Dims(8, 56, 64), plain, 16, 100));
      assertTrue(e.getMessage().contains("equal n_kv = 4"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> new MlaNaivePrefill(ctx, st, s, new MlaNaivePrefill.Dims(4, 0, 64), plain, 16, 100));
      assertTrue(e.getMessage().contains("no nope columns"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> new MlaNaivePrefill(ctx, st, s, ok, plain, 200, 100));
      assertTrue(e.getMessage().contains("maxKeys"), e.getMessage());
      try (MlaNaivePrefill plan = new MlaNaivePrefill(ctx, st, s, ok, plain, 16, 100)) {
        e = assertThrows(IllegalArgumentException.class,
            () -> plan.launch(st, null, 0, 0, 0, 0, 101, 0, 0));
        assertTrue(e.getMessage().contains("keys 101"), e.getMessage());
      }
    }
  }
}
