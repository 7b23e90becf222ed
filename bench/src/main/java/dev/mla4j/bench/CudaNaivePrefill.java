package dev.mla4j.bench;

import dev.mla4j.api.MlaShape;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cuda.CublasHandle;
import dev.mla4j.cuda.CudaContext;
import dev.mla4j.cuda.CudaException;
import dev.mla4j.cuda.CudaOps;
import dev.mla4j.cuda.CudaStream;
import dev.mla4j.cuda.DeviceBuffer;
import dev.mla4j.cuda.DevicePagedCache;
import dev.mla4j.cuda.MlaNaivePrefill;
import dev.mla4j.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * GPU timing of {@link MlaNaivePrefill}: one causal chunk of T query tokens at the end of a
 * {@code context}-token sequence, BF16 latent cache and weights (random), timed as
 * {@link CudaDecode} times a launch: the gather, both decompression GEMMs and the MHA prefill
 * kernel (with its merge). One cache copy: the chunk is compute-bound, and the absorbed rows it
 * is compared with read their cache from L2 just as often. TFLOP/s counts the FLOPs this path
 * executes: 2·N·L·n_kv·(d_nope + d_h) for the GEMMs plus 4·n_h·A·d_h for the attention (A the
 * causal (query, key) pairs); with n_e expanded heads, d_k = d_r + d_nope and d_v (Dims):
 * 2·N·L·n_e·(d_nope + d_v) + 2·n_h·A·(d_k + d_v).
 */
public final class CudaNaivePrefill {
  private CudaNaivePrefill() {}

  public static CudaDecode.Row measure(CudaContext ctx, CudaStream stream, String name,
      MlaShape s, MlaNaivePrefill.Dims dims, int tokens, int context) {
    try {
      return run(ctx, stream, name, s, dims, tokens, context);
    } catch (CudaException | IllegalStateException | IllegalArgumentException e) {
      return CudaDecode.Row.skip("mla-naive", name, 1, context, e.getMessage(), "BF16");
    }
  }

  private static CudaDecode.Row run(CudaContext ctx, CudaStream stream, String name, MlaShape s,
      MlaNaivePrefill.Dims dims, int tokens, int context) {
    int blocks = context / PagedLayers.BLOCK_TOKENS;
    int ne = dims.heads();
    int l = s.latentDim();
    int nope = dims.nope();
    int dk = s.ropeDim() + nope;
    int dv = dims.value();
    long rows = (long) tokens * s.heads();
    try (Arena arena = Arena.ofConfined();
        CublasHandle blas = CublasHandle.open(ctx, stream);
        DevicePagedCache cache = new DevicePagedCache(ctx, DType.BF16, blocks, l,
            s.ropeKeyWidth());
        MlaNaivePrefill plan = new MlaNaivePrefill(ctx, stream, s, dims, cache, tokens, context);
        DeviceBuffer wUk = ctx.allocate(2L * ne * nope * l);
        DeviceBuffer wUv = ctx.allocate(2L * ne * dv * l);
        DeviceBuffer q = ctx.allocate(4L * rows * dk);
        DeviceBuffer out = ctx.allocate(4L * rows * dv);
        DeviceBuffer table = ctx.allocate(4L * blocks);
        DeviceBuffer first = ctx.allocate(4)) {
      CudaOps.fillRandom(ctx, stream, cache.pool().pointer(), cache.pool().bytes() / 2, DType.BF16, 7);
      CudaOps.fillRandom(ctx, stream, wUk.pointer(), wUk.bytes() / 2, DType.BF16, 19);
      CudaOps.fillRandom(ctx, stream, wUv.pointer(), wUv.bytes() / 2, DType.BF16, 23);
      CudaOps.fillRandom(ctx, stream, q.pointer(), q.bytes() / 4, DType.F32, 11);
      MemorySegment ht = arena.allocate(4L * blocks, 4);
      for (int i = 0; i < blocks; i++) {
        ht.setAtIndex(ValueLayout.JAVA_INT, i, i);
      }
      MemorySegment hf = arena.allocate(4, 4);
      hf.set(ValueLayout.JAVA_INT, 0, context - tokens);
      table.upload(stream, ht, 0);
      first.upload(stream, hf, 0);
      Runnable launch = () -> plan.launch(stream, blas, wUk.pointer(), wUv.pointer(), q.pointer(),
          table.pointer(), context, first.pointer(), out.pointer());
      double[] probe = CudaDecode.time(ctx, stream, 3, launch);
      int reps = (int) Math.max(10, Math.min(100, 2000 / Math.max(1e-3, CudaDecode.median(probe))));
      CudaDecode.Timed timed = CudaDecode.timeWarm(ctx, stream, reps, CudaDecode.median(probe),
          launch);
      double[] ms = timed.ms();
      CudaDecode.checkFinite(arena, stream, out);
      double med = CudaDecode.median(ms);
      double attended = (double) tokens * context - (double) tokens * (tokens - 1) / 2;
      double flops = 2.0 * context * l * ne * (nope + dv) + 2.0 * s.heads() * attended * (dk + dv);
      double bytes = (double) context * (l + s.ropeKeyWidth()) * 2;
      Arrays.sort(ms);
      double seconds = med * 1e-3;
      return new CudaDecode.Row("mla-naive", name, 1, context, 0, 0, med * 1e3,
          ms[ms.length / 10] * 1e3, ms[ms.length * 9 / 10] * 1e3, bytes / seconds / 1e9,
          flops / seconds / 1e12, plan.kernel() + "+cublas", null, "BF16", null,
          timed.hostBound());
    }
  }
}
