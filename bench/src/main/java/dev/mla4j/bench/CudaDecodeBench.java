package dev.mla4j.bench;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cuda.CudaContext;
import dev.mla4j.cuda.CudaEvent;
import dev.mla4j.cuda.CudaOps;
import dev.mla4j.cuda.CudaStream;
import dev.mla4j.cuda.DeviceBuffer;
import dev.mla4j.cuda.DevicePagedCache;
import dev.mla4j.cuda.PagedAttention;
import dev.mla4j.tensor.DType;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * GPU decode benchmark of the device-resident path: one layer of MLA (absorbed, tensor-core kernel
 * where the shape has an instance) and MHA decode,
 * BF16 cache, T = 1, at the shapes, batches and contexts, timed with CUDA events around
 * each launch (attention + merge) after a warm-up; median of many reps. Cache copies are rotated
 * so the bytes read exceed the L2 several times. Also times a device-to-device copy as the
 * bandwidth ceiling. Formulas: bytes = seqs·ctx·(elements per token)·2; FLOPs MLA =
 * seqs·ctx·n_h·(2(d_r+L) + 2L), MHA = seqs·ctx·n_h·4·d_h. Args: [csv path] [quick].
 */
public final class CudaDecodeBench {
  private static final long MAX_CACHE_BYTES = 60L << 30;
  private static final long ROTATE_BYTES = 256L << 20;

  private CudaDecodeBench() {}

  private record Case(String name, MlaShape mla, MhaShape mha) {
    long elementsPerToken() {
      return mla != null ? mla.cacheElementsPerToken() : mha.cacheElementsPerToken();
    }

    double flopsPerToken() {
      if (mla != null) {
        return (double) mla.heads() * (2 * (mla.ropeDim() + mla.latentDim()) + 2 * mla.latentDim());
      }
      return 4.0 * mha.heads() * mha.headDim();
    }
  }

  public static void main(String[] args) throws IOException {
    Path csv = Path.of(args.length > 0 ? args[0] : "cuda-decode.csv");
    boolean quick = args.length > 1 && args[1].equals("quick");
    CudaContext ctx = CudaContext.get();
    System.out.println("device: " + ctx.describe() + ", L2 " + (ctx.l2Bytes() >> 20) + " MiB");
    List<String> lines = new ArrayList<>();
    lines.add("kind,shape,batch,ctx,splits,smem,median_us,p10_us,p90_us,GBps,TFLOPs,kernel");
    try (CudaStream stream = ctx.newStream()) {
      double copy = copyCeiling(ctx, stream);
      System.out.printf("device-to-device copy: %.0f GB/s (read + write)%n", copy);
      lines.add("copy,1GiB,,,,,,,," + String.format("%.1f", copy) + ",");
      float dsScale = (float) (1 / Math.sqrt(192));
      List<Case> cases = List.of(
          new Case("MLA Llama2-7B d_kv16", MlaShape.mha2mla(32, 32, 128, 8, 16), null),
          new Case("MLA Llama2-7B d_kv32", MlaShape.mha2mla(32, 32, 128, 8, 32), null),
          new Case("MLA Llama2-7B d_kv64", MlaShape.mha2mla(32, 32, 128, 8, 64), null),
          new Case("MLA DeepSeek 576/512", new MlaShape(128, 1, 64, 512, RopeKeyLayout.SHARED, dsScale), null),
          new Case("MHA Llama2-7B 32x128", null, MhaShape.of(32, 32, 128)),
          new Case("MHA DeepSeek 128x128", null, MhaShape.of(128, 128, 128)));
      int[] batches = quick ? new int[] {1, 64} : new int[] {1, 64, 128};
      int[] contexts = quick ? new int[] {4096, 32768} : new int[] {4096, 8192, 16384, 32768};
      System.out.printf("%-22s %5s %6s %6s %10s %9s %8s%n", "shape", "batch", "ctx", "splits",
          "median us", "GB/s", "TFLOP/s");
      for (Case c : cases) {
        for (int batch : batches) {
          for (int context : contexts) {
            lines.add(run(ctx, stream, c, batch, context));
          }
        }
      }
    }
    Files.write(csv, lines);
  }

  private static double copyCeiling(CudaContext ctx, CudaStream stream) {
    long bytes = 1L << 30;
    try (DeviceBuffer a = ctx.allocate(bytes); DeviceBuffer b = ctx.allocate(bytes)) {
      CudaOps.fillRandom(ctx, stream, a.pointer(), bytes / 2, DType.BF16, 1);
      double[] ms = time(ctx, stream, 30, () -> b.copyFrom(stream, a, bytes));
      return 2.0 * bytes / (median(ms) * 1e-3) / 1e9;
    }
  }

  private static String run(CudaContext ctx, CudaStream stream, Case c, int batch, int context) {
    long bytesPerToken = c.elementsPerToken() * DType.BF16.bytes();
    long cacheBytes = (long) batch * context * bytesPerToken;
    String name = c.name();
    if (cacheBytes > MAX_CACHE_BYTES) {
      System.out.printf("%-22s %5d %6d   skipped: cache of %.1f GB over the %d GB limit%n", name,
          batch, context, cacheBytes / 1e9, MAX_CACHE_BYTES >> 30);
      return "skip," + name + "," + batch + "," + context + ",,,,,,,";
    }
    int copies = (int) Math.max(1, Math.min(8, (ROTATE_BYTES + cacheBytes - 1) / cacheBytes));
    while (copies > 1 && cacheBytes * copies > MAX_CACHE_BYTES) {
      copies--;
    }
    int blocksPerSeq = context / PagedLayers.BLOCK_TOKENS;
    int blocks = copies * batch * blocksPerSeq;
    int heads = c.mla != null ? c.mla.heads() : c.mha.heads();
    int aWidth = c.mla != null ? c.mla.latentDim() : c.mha.headDim();
    int bWidth = c.mla != null ? c.mla.ropeDim() : 0;
    int vWidth = aWidth;
    int[] widths = c.mla != null ? new int[] {c.mla.latentDim(), c.mla.ropeKeyWidth()}
        : new int[] {c.mha.kvWidth(), c.mha.kvWidth()};
    try (Arena arena = Arena.ofConfined();
        DevicePagedCache cache = new DevicePagedCache(ctx, DType.BF16, blocks, widths);
        PagedAttention plan = c.mla != null
            ? PagedAttention.mlaTensorCore(ctx, c.mla, cache, batch, 1, context)
            : PagedAttention.mha(ctx, c.mha, cache, batch, 1, context);
        DeviceBuffer qa = ctx.allocate(4L * batch * heads * aWidth);
        DeviceBuffer qb = ctx.allocate(4L * Math.max(1, batch * heads * bWidth));
        DeviceBuffer out = ctx.allocate(4L * batch * heads * vWidth);
        DeviceBuffer tables = ctx.allocate(4L * blocks);
        DeviceBuffer first = ctx.allocate(4L * batch)) {
      CudaOps.fillRandom(ctx, stream, cache.pool().pointer(), cache.pool().bytes() / 2, DType.BF16, 7);
      CudaOps.fillRandom(ctx, stream, qa.pointer(), qa.bytes() / 4, DType.F32, 11);
      CudaOps.fillRandom(ctx, stream, qb.pointer(), qb.bytes() / 4, DType.F32, 13);
      int[] table = new int[blocks];
      Arrays.setAll(table, i -> i);
      int[] pos = new int[batch];
      Arrays.fill(pos, context - 1);
      MemorySegment ht = arena.allocate(4L * blocks, 4);
      ht.copyFrom(MemorySegment.ofArray(table));
      MemorySegment hp = arena.allocate(4L * batch, 4);
      hp.copyFrom(MemorySegment.ofArray(pos));
      tables.upload(stream, ht, 0);
      first.upload(stream, hp, 0);
      int[] rep = {0};
      int nCopies = copies;
      Runnable launch = () -> {
        long table0 = tables.pointer(4L * batch * blocksPerSeq * (rep[0]++ % nCopies));
        plan.launch(stream, qa.pointer(), c.mla != null ? qb.pointer() : 0L, table0, blocksPerSeq,
            first.pointer(), out.pointer());
      };
      double[] probe = time(ctx, stream, 3, launch);
      int reps = (int) Math.max(10, Math.min(100, 2000 / Math.max(1e-3, median(probe))));
      double[] ms = time(ctx, stream, reps, launch);
      checkFinite(arena, stream, out);
      double med = median(ms);
      double gbps = cacheBytes / (med * 1e-3) / 1e9;
      double tflops = (double) batch * context * c.flopsPerToken() / (med * 1e-3) / 1e12;
      Arrays.sort(ms);
      System.out.printf("%-22s %5d %6d %6d %10.1f %9.0f %8.2f  %s%n", name, batch, context,
          plan.splits(), med * 1e3, gbps, tflops, plan.kernel());
      return String.format("%s,%s,%d,%d,%d,%d,%.2f,%.2f,%.2f,%.1f,%.3f,%s",
          c.mla != null ? "mla" : "mha", name, batch, context, plan.splits(), plan.sharedBytes(),
          med * 1e3, ms[ms.length / 10] * 1e3, ms[ms.length * 9 / 10] * 1e3, gbps, tflops,
          plan.kernel());
    }
  }

  private static void checkFinite(Arena arena, CudaStream stream, DeviceBuffer out) {
    MemorySegment h = arena.allocate(out.bytes(), 16);
    out.download(stream, 0, h);
    stream.synchronize();
    for (long i = 0; i < out.bytes() / 4; i++) {
      if (!Float.isFinite(h.getAtIndex(ValueLayout.JAVA_FLOAT, i))) {
        throw new IllegalStateException("non-finite attention output at " + i);
      }
    }
  }

  /** Per-rep milliseconds of {@code work}, each bracketed by events, after 3 warm-up runs. */
  private static double[] time(CudaContext ctx, CudaStream stream, int reps, Runnable work) {
    for (int i = 0; i < 3; i++) {
      work.run();
    }
    CudaEvent[] events = new CudaEvent[reps + 1];
    try {
      for (int i = 0; i <= reps; i++) {
        events[i] = ctx.newEvent();
      }
      events[0].record(stream);
      for (int i = 0; i < reps; i++) {
        work.run();
        events[i + 1].record(stream);
      }
      events[reps].synchronize();
      double[] ms = new double[reps];
      for (int i = 0; i < reps; i++) {
        ms[i] = events[i + 1].millisSince(events[i]);
      }
      return ms;
    } finally {
      for (CudaEvent e : events) {
        if (e != null) {
          e.close();
        }
      }
    }
  }

  private static double median(double[] values) {
    double[] s = values.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
