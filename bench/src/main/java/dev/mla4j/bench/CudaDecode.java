package dev.mla4j.bench;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.cuda.CudaContext;
import dev.mla4j.cuda.CudaEvent;
import dev.mla4j.cuda.CudaGraph;
import dev.mla4j.cuda.CudaException;
import dev.mla4j.cuda.CudaOps;
import dev.mla4j.cuda.CudaStream;
import dev.mla4j.cuda.DeviceBuffer;
import dev.mla4j.cuda.DevicePagedCache;
import dev.mla4j.cuda.PagedAttention;
import dev.mla4j.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntFunction;

/**
 * GPU decode timing of the device-resident path: one layer of MLA (absorbed, tensor-core kernel
 * where the shape has an instance) or MHA decode, BF16 cache (or an INT8/FP8/INT4 latent), T = 1
 * (or a causal prefill chunk of T tokens; MHA's then runs the tensor-core prefill kernel,
 * {@link PagedAttention#mhaTensorCore}), {@code batch} sequences of {@code context} tokens, timed with CUDA events around each launch (attention + merge) after a
 * warm-up; median of many reps. Cache copies are rotated so the bytes read exceed the L2 several
 * times. Costs are {@link KernelCost#mlaDecode} / {@link KernelCost#mhaDecode} times the batch.
 * Used by {@link CudaDecodeBench} and by the report.
 */
public final class CudaDecode {
  /** Bytes of cache (all copies) beyond which a case is skipped: leaves room on an 80 GB GPU. */
  public static final long MAX_CACHE_BYTES = 60L << 30;
  private static final long ROTATE_BYTES = 256L << 20;
  private static final DType CACHE = DType.BF16;
  /** The plain cache every row uses unless a latent format is given. */
  public static final CacheFormat PLAIN = CacheFormat.plain(CACHE);
  /**
   * The MLA latent formats the tensor-core decode kernels read directly (group 64, BF16 scales,
   * rope keys BF16).
   */
  public static final List<CacheFormat> QUANTIZED_LATENTS =
      List.of(CacheFormat.int8(64), CacheFormat.fp8(64), CacheFormat.int4(64));
  /** The same with the rope keys quantized like the latent (the qrope kernel instances). */
  public static final List<CacheFormat> QUANTIZED_ROPE =
      QUANTIZED_LATENTS.stream().map(CacheFormat::withQuantizedRopeKeys).toList();
  /** Every quantized format of the sweep and of the report: the latents, then with rope keys. */
  public static final List<CacheFormat> QUANTIZED =
      java.util.stream.Stream.concat(QUANTIZED_LATENTS.stream(), QUANTIZED_ROPE.stream()).toList();

  private CudaDecode() {}

  /**
   * One timed case; {@code skipped} non-null (and the numbers NaN) when it did not run.
   *
   * @param kind {@code mla} or {@code mha}
   * @param medianMicros median time of one launch
   * @param gbps cache bytes read / median time
   * @param tflops FLOPs (FlashMLA-style) / median time
   * @param powerCapped the part of the timed window (0-1) the GPU spent held below its clocks by
   *     its power limit ({@link PowerCapClock}); null where not measured (no NVML, older reports)
   * @param hostBound whether the host still queued the timed launches no faster than the GPU ran
   *     them after its warm-ups ({@link #timeWarm}): the time is then the launch path's, an upper
   *     bound on the kernel's; null where not measured (older reports)
   */
  public record Row(String kind, String shape, int batch, int context, int splits, int sharedBytes,
      double medianMicros, double p10Micros, double p90Micros, double gbps, double tflops,
      String kernel, String skipped, String cache, Double powerCapped, Boolean hostBound) {

    static Row skip(String kind, String shape, int batch, int context, String why, String cache) {
      return new Row(kind, shape, batch, context, 0, 0, Double.NaN, Double.NaN, Double.NaN,
          Double.NaN, Double.NaN, "", why, cache);
    }

    /** A row without a host-bound check. */
    public Row(String kind, String shape, int batch, int context, int splits, int sharedBytes,
        double medianMicros, double p10Micros, double p90Micros, double gbps, double tflops,
        String kernel, String skipped, String cache, Double powerCapped) {
      this(kind, shape, batch, context, splits, sharedBytes, medianMicros, p10Micros, p90Micros,
          gbps, tflops, kernel, skipped, cache, powerCapped, null);
    }

    /** A row without a power-cap figure. */
    public Row(String kind, String shape, int batch, int context, int splits, int sharedBytes,
        double medianMicros, double p10Micros, double p90Micros, double gbps, double tflops,
        String kernel, String skipped, String cache) {
      this(kind, shape, batch, context, splits, sharedBytes, medianMicros, p10Micros, p90Micros,
          gbps, tflops, kernel, skipped, cache, null);
    }

    /** A BF16 row. */
    public Row(String kind, String shape, int batch, int context, int splits, int sharedBytes,
        double medianMicros, double p10Micros, double p90Micros, double gbps, double tflops,
        String kernel, String skipped) {
      this(kind, shape, batch, context, splits, sharedBytes, medianMicros, p10Micros, p90Micros,
          gbps, tflops, kernel, skipped, null);
    }

    /** The cache format measured: BF16 unless the row says otherwise (older reports). */
    public String cacheFormat() {
      return cache == null ? "BF16" : cache;
    }
  }

  /**
   * Device-to-device copy of 1 GiB in GB/s (read + write): the ceiling of a kernel that writes
   * as much as it reads.
   */
  public static double copyCeilingGBps(CudaContext ctx, CudaStream stream) {
    long bytes = 1L << 30;
    try (DeviceBuffer a = ctx.allocate(bytes); DeviceBuffer b = ctx.allocate(bytes)) {
      CudaOps.fillRandom(ctx, stream, a.pointer(), bytes / 2, DType.BF16, 1);
      double[] ms = time(ctx, stream, 30, () -> b.copyFrom(stream, a, bytes));
      return 2.0 * bytes / (median(ms) * 1e-3) / 1e9;
    }
  }

  /**
   * One streaming read of 1 GiB ({@link CudaOps#readPeak}) in GB/s, median of 30: the memory
   * ceiling of the decode kernels, which read their cache and write almost nothing.
   */
  public static double readCeilingGBps(CudaContext ctx, CudaStream stream) {
    return readCeilingGBps(ctx, stream, 1L << 30);
  }

  /**
   * The streaming read over {@code bytes} (a positive multiple of 16), median of 30 launches, in
   * GB/s: to check that a buffer as large as a long-context cache reads as fast as the 1 GiB of
   * {@link #readCeilingGBps(CudaContext, CudaStream)}.
   */
  public static double readCeilingGBps(CudaContext ctx, CudaStream stream, long bytes) {
    long outBytes = (long) CudaOps.readPeakBlocks(ctx) * CudaOps.READ_PEAK_THREADS * Integer.BYTES;
    try (DeviceBuffer a = ctx.allocate(bytes); DeviceBuffer out = ctx.allocate(outBytes)) {
      CudaOps.fillRandom(ctx, stream, a.pointer(), bytes / 2, DType.BF16, 1);
      double[] ms = time(ctx, stream, 30,
          () -> CudaOps.readPeak(ctx, stream, a.pointer(), bytes, out.pointer()));
      return bytes / (median(ms) * 1e-3) / 1e9;
    }
  }

  /**
   * The device's dense BF16 tensor-core ceiling in TFLOP/s: the faster of {@link #mmaSyncTflops}
   * and, on an sm_90 device, {@link #wgmmaTflops} (the instruction of DeepSeek's MLA kernel there).
   */
  public static double tensorCoreTflops(CudaContext ctx, CudaStream stream) {
    double mma = mmaSyncTflops(ctx, stream);
    return ctx.hasWgmma() ? Math.max(mma, wgmmaTflops(ctx, stream)) : mma;
  }

  /**
   * Dense BF16 wgmma throughput in TFLOP/s (m64n256k16, both operands from shared memory, FP32
   * accumulators): one CTA of two warpgroups per SM; median of 10 launches of a few ms.
   */
  public static double wgmmaTflops(CudaContext ctx, CudaStream stream) {
    int blocks = ctx.multiprocessors();
    long iters = 2048;
    return peakTflops(ctx, stream, blocks, out -> CudaOps.wgmmaPeak(ctx, stream, out, blocks, iters),
        (double) blocks * (CudaOps.PEAK_THREADS / 128) * iters * CudaOps.WGMMA_PEAK_STEPS
            * 2 * 64 * 256 * 16);
  }

  /**
   * Dense BF16 mma.sync throughput in TFLOP/s (m16n8k16, FP32 accumulators, operands in
   * registers, no memory traffic): the compute ceiling of the mma.sync MLA kernels. 4 CTAs of 8
   * warps per SM; median of 10 launches of about 5 ms.
   */
  public static double mmaSyncTflops(CudaContext ctx, CudaStream stream) {
    int blocks = 4 * ctx.multiprocessors();
    long iters = 16384;
    return peakTflops(ctx, stream, blocks, out -> CudaOps.mmaPeak(ctx, stream, out, blocks, iters),
        (double) blocks * (CudaOps.PEAK_THREADS / 32) * iters * CudaOps.PEAK_CHAINS
            * 2 * 16 * 8 * 16);
  }

  /** Median TFLOP/s of 10 launches of a peak probe writing one float per thread to its buffer. */
  private static double peakTflops(CudaContext ctx, CudaStream stream, int blocks,
      java.util.function.LongConsumer launch, double flops) {
    try (DeviceBuffer out = ctx.allocate((long) blocks * CudaOps.PEAK_THREADS * Float.BYTES)) {
      double[] ms = time(ctx, stream, 10, () -> launch.accept(out.pointer()));
      return flops / (median(ms) * 1e-3) / 1e12;
    }
  }

  /** Times MLA of {@code mla} (when non-null) or else MHA of {@code mha}. */
  public static Row measure(CudaContext ctx, CudaStream stream, String name, MlaShape mla,
      MhaShape mha, int batch, int context) {
    return measure(ctx, stream, name, mla, mha, batch, 1, context);
  }

  /**
   * As {@link #measure(CudaContext, CudaStream, String, MlaShape, MhaShape, int, int)} with
   * {@code tokens} query tokens per sequence at the last positions of the context: 1 is a decode
   * step, more a causal prefill chunk whose keys are already cached.
   */
  public static Row measure(CudaContext ctx, CudaStream stream, String name, MlaShape mla,
      MhaShape mha, int batch, int tokens, int context) {
    return measure(ctx, stream, name, mla, mha, PLAIN, batch, tokens, context);
  }

  /**
   * As above with the MLA latent stored as {@code latent}: BF16, or INT8/FP8/INT4 codes with BF16
   * group scales read directly by the tensor-core kernel, rope keys BF16 or (where the format
   * quantizes them) codes of the same format, one segment per kv head. For MHA the keys and the
   * values are stored so (one segment per kv head each), read by the memory-bound decode kernel.
   * Bytes count what the kernel reads: codes, scales and rope keys.
   */
  public static Row measure(CudaContext ctx, CudaStream stream, String name, MlaShape mla,
      MhaShape mha, CacheFormat latent, int batch, int tokens, int context) {
    String kind = mla != null ? "mla" : "mha";
    if (mla == null && latent.quantizeRopeKeys()) {
      throw new IllegalArgumentException("MHA has no rope keys to quantize: " + latent);
    }
    QuantizedLayout quant = !latent.isQuantized() ? null : mla != null
        ? new QuantizedLayout(latent.quantization(), 1, mla.latentDim(), latent.groupSize())
        : new QuantizedLayout(latent.quantization(), mha.kvHeads(), mha.headDim(),
            latent.groupSize());
    QuantizedLayout rope = quant != null && latent.quantizeRopeKeys()
        ? new QuantizedLayout(latent.quantization(),
            mla.ropeKeys() == RopeKeyLayout.SHARED ? 1 : mla.kvHeads(), mla.ropeDim(),
            latent.groupSize())
        : null;
    long bytesPerToken = quant == null
        ? (long) (mla != null ? mla.cacheElementsPerToken() : mha.cacheElementsPerToken())
            * CACHE.bytes()
        : mla == null ? 2 * quant.bytesPerRow()  // K and V
        : quant.bytesPerRow() + (rope != null ? rope.bytesPerRow() : 2L * mla.ropeKeyWidth());
    String format = quant != null ? latent.quantization() + " g" + latent.groupSize()
        + (rope != null ? " rope " + latent.quantization() : "") : "BF16";
    long cacheBytes = (long) batch * context * bytesPerToken;
    if (cacheBytes > MAX_CACHE_BYTES) {
      return Row.skip(kind, name, batch, context, String.format(
          "cache of %.1f GB over the %d GiB limit", cacheBytes / 1e9, MAX_CACHE_BYTES >> 30),
          format);
    }
    if (context % PagedLayers.BLOCK_TOKENS != 0) {
      throw new IllegalArgumentException("GPU decode context must be a multiple of "
          + PagedLayers.BLOCK_TOKENS + ", got " + context);
    }
    try {
      return run(ctx, stream, name, mla, mha, quant, rope, batch, tokens, context, bytesPerToken,
          format);
    } catch (CudaException e) {
      return Row.skip(kind, name, batch, context, "CUDA error: " + e.getMessage(), format);
    }
  }

  private static Row run(CudaContext ctx, CudaStream stream, String name, MlaShape mla,
      MhaShape mha, QuantizedLayout quant, QuantizedLayout rope, int batch, int tokens, int context,
      long bytesPerToken, String format) {
    long cacheBytes = (long) batch * context * bytesPerToken;
    int copies = (int) Math.max(1, Math.min(8, (ROTATE_BYTES + cacheBytes - 1) / cacheBytes));
    while (copies > 1 && cacheBytes * copies > MAX_CACHE_BYTES) {
      copies--;
    }
    int blocksPerSeq = context / PagedLayers.BLOCK_TOKENS;
    int blocks = copies * batch * blocksPerSeq;
    int heads = mla != null ? mla.heads() : mha.heads();
    int aWidth = mla != null ? mla.latentDim() : mha.headDim();
    int bWidth = mla != null ? mla.ropeDim() : 0;
    DevicePagedCache.Part[] parts = mla != null
        ? new DevicePagedCache.Part[] {quant != null ? DevicePagedCache.Part.quantized(quant)
            : DevicePagedCache.Part.plain(mla.latentDim()), rope != null
            ? DevicePagedCache.Part.quantized(rope) : DevicePagedCache.Part.plain(mla.ropeKeyWidth())}
        : quant != null ? new DevicePagedCache.Part[] {DevicePagedCache.Part.quantized(quant),
            DevicePagedCache.Part.quantized(quant)}
        : new DevicePagedCache.Part[] {DevicePagedCache.Part.plain(mha.kvWidth()),
            DevicePagedCache.Part.plain(mha.kvWidth())};
    try (Arena arena = Arena.ofConfined();
        DevicePagedCache cache = new DevicePagedCache(ctx, CACHE, blocks, parts);
        PagedAttention plan = mla != null
            ? PagedAttention.mlaTensorCore(ctx, mla, cache, batch, tokens, context)
            : PagedAttention.mhaTensorCore(ctx, mha, cache, batch, tokens, context);
        DeviceBuffer qa = ctx.allocate(4L * batch * tokens * heads * aWidth);
        DeviceBuffer qb = ctx.allocate(4L * Math.max(1, batch * tokens * heads * bWidth));
        DeviceBuffer out = ctx.allocate(4L * batch * tokens * heads * aWidth);
        DeviceBuffer tables = ctx.allocate(4L * blocks);
        DeviceBuffer first = ctx.allocate(4L * batch)) {
      CudaOps.fillRandom(ctx, stream, cache.pool().pointer(), cache.pool().bytes() / 2, CACHE, 7);
      if (quant != null) {
        QuantizedBlocks.fill(arena, stream, cache, 0, 17);
      }
      if (rope != null || (mla == null && quant != null)) {  // quantized rope keys, or MHA's V
        QuantizedBlocks.fill(arena, stream, cache, 1, 19);
      }
      CudaOps.fillRandom(ctx, stream, qa.pointer(), qa.bytes() / 4, DType.F32, 11);
      CudaOps.fillRandom(ctx, stream, qb.pointer(), qb.bytes() / 4, DType.F32, 13);
      int[] table = new int[blocks];
      Arrays.setAll(table, i -> i);
      int[] pos = new int[batch];
      Arrays.fill(pos, context - tokens);
      MemorySegment ht = arena.allocate(4L * blocks, 4);
      ht.copyFrom(MemorySegment.ofArray(table));
      MemorySegment hp = arena.allocate(4L * batch, 4);
      hp.copyFrom(MemorySegment.ofArray(pos));
      tables.upload(stream, ht, 0);
      first.upload(stream, hp, 0);
      int[] rep = {0};
      int nCopies = copies;
      IntFunction<Runnable> onCopy = c -> () -> plan.launch(stream, qa.pointer(),
          mla != null ? qb.pointer() : 0L, tables.pointer(4L * batch * blocksPerSeq * c),
          blocksPerSeq, first.pointer(), out.pointer());
      Runnable launch = () -> onCopy.apply(rep[0]++ % nCopies).run();
      double[] probe = time(ctx, stream, 3, launch);
      int reps = (int) Math.max(10, Math.min(100, 2000 / Math.max(1e-3, median(probe))));
      Optional<PowerCapClock> power = powerClock(ctx);
      long capped0 = power.map(PowerCapClock::cappedNanos).orElse(-1L);
      long wall0 = System.nanoTime();
      GraphReplays graphs = GraphReplays.chosen();
      Timed timed = graphs == GraphReplays.ALWAYS ? null
          : timeWarm(ctx, stream, reps, median(probe), launch);
      boolean replayed = graphs == GraphReplays.ALWAYS
          || (graphs == GraphReplays.AUTO && timed.hostBound());
      if (replayed) {
        timed = timeReplays(ctx, stream, reps, median(probe), nCopies, onCopy);
      }
      double[] ms = timed.ms();
      long wall = System.nanoTime() - wall0;
      long capped1 = power.map(PowerCapClock::cappedNanos).orElse(-1L);
      Double capped = capped0 < 0 || capped1 < 0 ? null
          : Math.min(1.0, (capped1 - capped0) / (double) wall);
      checkFinite(arena, stream, out);
      double med = median(ms);
      KernelCost cost = tokens == 1
          ? (mla != null ? KernelCost.mlaDecode(mla, context, CACHE) : KernelCost.mhaDecode(mha, context, CACHE))
          : (mla != null ? KernelCost.mlaPrefill(mla, context, tokens, CACHE)
              : KernelCost.mhaPrefill(mha, context, tokens, CACHE));
      cost = new KernelCost(cost.flops(), (double) context * bytesPerToken);
      double seconds = med * 1e-3;
      Arrays.sort(ms);
      return new Row(mla != null ? "mla" : "mha", name, batch, context, plan.splits(),
          plan.sharedBytes(), med * 1e3, ms[ms.length / 10] * 1e3, ms[ms.length * 9 / 10] * 1e3,
          batch * cost.bytes() / seconds / 1e9, batch * cost.flops() / seconds / 1e12,
          plan.kernel() + (plan.cluster() > 1 ? " cluster " + plan.cluster() : "")
              + (replayed ? GRAPH_REPLAYS : ""), null, format, capped, timed.hostBound());
    }
  }

  private static final Map<String, Optional<PowerCapClock>> POWER_CLOCKS =
      new ConcurrentHashMap<>();

  /** The power-cap clock of ctx's device, looked up once per process. */
  static Optional<PowerCapClock> powerClock(CudaContext ctx) {
    return POWER_CLOCKS.computeIfAbsent(ctx.pciBusId(), PowerCapClock::forDevice);
  }

  static void checkFinite(Arena arena, CudaStream stream, DeviceBuffer out) {
    MemorySegment h = arena.allocate(out.bytes(), 16);
    out.download(stream, 0, h);
    stream.synchronize();
    for (long i = 0; i < out.bytes() / 4; i++) {
      if (!Float.isFinite(h.getAtIndex(ValueLayout.JAVA_FLOAT, i))) {
        throw new IllegalStateException("non-finite attention output at " + i);
      }
    }
  }

  /** Whether a row of this process has warmed the launch path already. */
  private static boolean hostWarm;

  /**
   * Runs {@code work} for about 50 ms (at most 10,000 times) before a row is timed. The events time
   * the GPU only while the host queues launches faster than the GPU runs them; a short row (batch
   * 1: 20-50 us) timed with the launch path still interpreted measured the host instead (first
   * rows of a sweep and one-row runs 1.3-3x slower than their kernels under ncu).
   */
  static void warmHost(CudaStream stream, double probeMillis, Runnable work) {
    // the first row of a process also pays for compiling the launch path: 0.5 s
    warmHost(stream, probeMillis, work, hostWarm ? 50 : 500);
    hostWarm = true;
  }

  private static void warmHost(CudaStream stream, double probeMillis, Runnable work,
      double millis) {
    int runs = (int) Math.max(3, Math.min(10_000, millis / Math.max(1e-3, probeMillis)));
    for (int i = 0; i < runs; i++) {
      work.run();
    }
    stream.synchronize();
  }

  /** Per-rep milliseconds, and whether the host still set their pace ({@link #hostBound}). */
  record Timed(double[] ms, boolean hostBound) {}

  /** Share of the GPU's time per launch at or above which the host's queueing time counts. */
  public static final double HOST_BOUND_SHARE = 0.9;

  /**
   * {@link #warmHost}, then {@link #time}; re-warmed for 0.5 s and re-timed, at most twice,
   * while the host took at least {@link #HOST_BOUND_SHARE} of a launch's GPU time to queue it.
   * The events then timed the host: the quick report's first INT4 MLA row at batch 1 (a launch
   * path's branches not yet compiled) gave 63 us, 3x its neighbours, at stops 30 and 31.
   */
  static Timed timeWarm(CudaContext ctx, CudaStream stream, int reps, double probeMillis,
      Runnable work) {
    warmHost(stream, probeMillis, work);
    for (int attempt = 0; ; attempt++) {
      long[] queued = new long[1];
      double[] ms = time(ctx, stream, reps, work, queued);
      if (!hostBound(queued[0], reps, median(ms))) {
        return new Timed(ms, false);
      }
      if (attempt == 2) {
        System.err.printf("warning: launches still queued at the GPU's pace after 1 s of"
            + " warm-up (%.1f us each, %.1f us on the GPU); the row may time the host%n",
            queued[0] / 1e3 / reps, median(ms) * 1e3);
        return new Timed(ms, true);
      }
      warmHost(stream, probeMillis, work, 500);
    }
  }

  /** Ends a row's kernel name when its times are of CUDA graph replays ({@link #timeReplays}). */
  public static final String GRAPH_REPLAYS = " (graph replays)";

  /** When a row is timed from graph replays: {@code -Dmla4j.bench.graphs=auto|always|never}. */
  enum GraphReplays {
    /** Rows still host-bound after {@link #timeWarm}'s re-warms: the default. */
    AUTO,
    /** Every row: to compare replays with direct launches where the host keeps up. */
    ALWAYS,
    NEVER;

    static GraphReplays chosen() {
      String v = System.getProperty("mla4j.bench.graphs", "auto");
      try {
        return valueOf(v.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("-Dmla4j.bench.graphs=" + v
            + ": expected auto, always or never", e);
      }
    }
  }

  /**
   * {@link #timeWarm} over replays of one CUDA graph per cache copy ({@code onCopy}'s launches,
   * captured once): the kernels' time without the JVM's launch path, which costs the host one
   * cuGraphLaunch a step (about 1.9 us on the H100, against 6.8 us for a kernel and its merge).
   */
  static Timed timeReplays(CudaContext ctx, CudaStream stream, int reps, double probeMillis,
      int copies, IntFunction<Runnable> onCopy) {
    CudaGraph[] graphs = new CudaGraph[copies];
    try {
      for (int c = 0; c < copies; c++) {
        graphs[c] = CudaGraph.capture(ctx, stream, onCopy.apply(c));
      }
      int[] next = {0};
      return timeWarm(ctx, stream, reps, probeMillis,
          () -> graphs[next[0]++ % copies].launch(stream));
    } finally {
      for (CudaGraph g : graphs) {
        if (g != null) {
          g.close();
        }
      }
    }
  }

  /** Whether queueing {@code reps} launches took the host {@code queuedNanos}, near their GPU time. */
  static boolean hostBound(long queuedNanos, int reps, double medianMillis) {
    return queuedNanos / 1e6 / reps >= HOST_BOUND_SHARE * medianMillis;
  }

  /** Per-rep milliseconds of {@code work}, each bracketed by events, after 3 warm-up runs. */
  static double[] time(CudaContext ctx, CudaStream stream, int reps, Runnable work) {
    return time(ctx, stream, reps, work, new long[1]);
  }

  /** {@link #time}, with the host's nanoseconds to queue the timed reps in {@code queued[0]}. */
  static double[] time(CudaContext ctx, CudaStream stream, int reps, Runnable work,
      long[] queued) {
    for (int i = 0; i < 3; i++) {
      work.run();
    }
    CudaEvent[] events = new CudaEvent[reps + 1];
    try {
      for (int i = 0; i <= reps; i++) {
        events[i] = ctx.newEvent();
      }
      events[0].record(stream);
      long t0 = System.nanoTime();
      for (int i = 0; i < reps; i++) {
        work.run();
        events[i + 1].record(stream);
      }
      queued[0] = System.nanoTime() - t0;
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

  static double median(double[] values) {
    double[] s = values.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
