package dev.mla4j.bench.report;

import dev.mla4j.bench.Ceilings;
import dev.mla4j.bench.DecodePreset;
import dev.mla4j.bench.JmhResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Builds {@code report.md} from a {@link ReportData}: machine, self-check, measured ceilings,
 * computed cache sizes, MLA-vs-MHA decode and prefill tables, the per-kernel suites and links to
 * the charts. Pure: it measures nothing and writes no file.
 */
public final class MarkdownReport {
  /** Contexts of the cache-size table (whole model, one sequence). */
  static final List<Integer> CACHE_CONTEXTS = List.of(1024, 4096, 32768, 131072);

  private MarkdownReport() {}

  /** @param charts chart file name → caption, in the order they are shown */
  public static String render(ReportData d, Map<String, String> charts) {
    StringBuilder sb = new StringBuilder();
    Environment env = d.environment();
    sb.append("# mla4j benchmark report: ").append(env.gpu() != null ? env.gpu() : env.cpu())
        .append("\n\nProfile **").append(env.profile()).append("**, ").append(env.date());
    if (!Double.isNaN(env.wallSeconds())) {
      sb.append(", wall time ").append(SuiteRunner.clock((long) (env.wallSeconds() * 1e9)));
    }
    sb.append(". Raw JMH results: [`jmh-results.json`](jmh-results.json)")
        .append(d.gpu() != null ? ", GPU rows: [`gpu-results.json`](gpu-results.json)" : "")
        .append(", JMH's log: `jmh.log` (not kept in git).\n\n");
    machine(sb, env);
    sb.append("## Kernel self-check\n\n").append(d.selfCheckPassed()
        ? "Every kernel is within the test suite's tolerance of the double-precision oracle."
        : "**FAILED**: a kernel is outside the test suite's tolerance; its numbers below are"
            + " not to be trusted.").append("\n\n```\n").append(d.selfCheck().strip())
        .append("\n```\n\n");
    if (!d.failed().isEmpty()) {
      sb.append("**Trials without a result** (see `jmh.log`):\n\n");
      d.failed().forEach(f -> sb.append("- ").append(f).append('\n'));
      sb.append('\n');
    }
    Ceilings ceilings = new Ceilings(d.jmh());
    ceilings(sb, ceilings, d.gpu());
    CacheTables.render(sb, CacheSizes.compute(Arrays.asList(DecodePreset.values()),
        CacheFormat.standard()), CACHE_CONTEXTS, d.budgetBytes());
    attention(sb, d, ceilings);
    kernels(sb, d.jmh(), ceilings, d.gpu());
    if (!charts.isEmpty()) {
      sb.append("## Charts\n\n");
      charts.forEach((file, caption) ->
          sb.append("### ").append(caption).append("\n\n![").append(caption).append("](")
              .append(file).append(")\n\n"));
    }
    formulas(sb);
    return sb.toString();
  }

  private static void machine(StringBuilder sb, Environment env) {
    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of("CPU", env.cpu() + ", " + env.processors() + " processors"));
    rows.add(List.of("memory", Md.bytes(env.memoryBytes())));
    if (env.gpu() != null) {
      rows.add(List.of("GPU", env.gpu()));
    }
    rows.add(List.of("OS", env.os()));
    rows.add(List.of("JDK", env.jdk()));
    rows.add(List.of("Vector API", env.vector()));
    rows.add(List.of("backends", String.join("; ", env.backends())));
    rows.add(List.of("load average (1 min)", Md.num(env.loadStart(), 2) + " at the start, "
        + Md.num(env.loadEnd(), 2) + " at the end"));
    sb.append("## Machine\n\n");
    Md.table(sb, List.of("", ""), rows);
    // the report's own build and benchmarks keep up to one thread per processor busy, so only a
    // load above the processor count shows other work
    if (Math.max(env.loadStart(), env.loadEnd()) > env.processors() + 0.5) {
      sb.append("**The CPUs were shared**: the load average exceeds the processor count, so other"
          + " work ran beside this report's own threads and its CPU times are slower and noisier"
          + " than on an idle machine (multi-threaded kernels suffer most: each step waits for"
          + " its slowest thread).\n\n");
    }
  }

  private static void ceilings(StringBuilder sb, Ceilings c, GpuResults gpu) {
    sb.append("## Ceilings measured in this run\n\n");
    List<List<String>> rows = new ArrayList<>();
    c.readByThreads().forEach((t, v) ->
        rows.add(List.of("CPU read bandwidth", Integer.toString(t), Md.num(v / 1e9, 1) + " GB/s")));
    c.flopsByThreads().forEach((t, v) -> rows.add(
        List.of("CPU vector FMA (F32)", Integer.toString(t), Md.num(v / 1e9, 1) + " GFLOP/s")));
    if (gpu != null) {
      rows.add(List.of("GPU device-to-device copy (read + write)", "",
          Md.num(gpu.copyGBps(), 0) + " GB/s"));
      if (gpu.readGBps() > 0) {
        rows.add(List.of("GPU streaming read", "", Md.num(gpu.readGBps(), 0) + " GB/s"));
      }
      if (gpu.tensorCoreTflops() > 0) {
        rows.add(List.of("GPU BF16 tensor cores (dense; faster of mma.sync and sm_90 wgmma)", "",
            Md.num(gpu.tensorCoreTflops(), 0) + " TFLOP/s"));
      }
    }
    if (rows.isEmpty()) {
      sb.append("None measured: the fractions of the ceiling are left out.\n\n");
      return;
    }
    Md.table(sb, List.of("probe", "threads", "ceiling"), rows);
    sb.append("Every \"% BW\" is a row's GB/s over the read bandwidth and every \"% FMA\" its"
        + " GFLOP/s over the FMA rate, both at the row's thread count (the probe with the most"
        + " threads not above it). GPU rows show their GB/s over the streaming-read bandwidth"
        + " (partial RoPE, which writes as much as it reads: over the copy bandwidth) and their"
        + " TFLOP/s over the tensor-core rate (\"% TC\"; MLA only: MHA decode does no MMA).\n\n");
  }

  private static void attention(StringBuilder sb, ReportData d, Ceilings c) {
    sb.append("## MLA vs MHA: decode, one layer, one step\n\n")
        .append("Times are the median of the measured JMH iterations (JMH's average time per"
            + " operation within each iteration); \"cache MLA → MHA\" is the cache of this layer"
            + " at N tokens, which one step reads once. MHA/MLA above 1 means MLA is faster.\n\n");
    AttentionTables.cpu(sb, "DecodeBenchmark", d.jmh(), c);
    if (d.jmh().stream().anyMatch(r -> r.shortName().startsWith("PrefillBenchmark."))) {
      sb.append("## MLA vs MHA: prefill chunk, one layer\n\n")
          .append("Causal attention of the last T positions of a context of N over a cache"
              + " that holds them (the append, a copy, is not timed).\n\n");
      AttentionTables.cpu(sb, "PrefillBenchmark", d.jmh(), c);
    }
    if (d.gpu() != null) {
      sb.append("## MLA vs MHA on the GPU: decode, one layer, BF16 cache\n\n")
          .append("Device-resident paged cache, timed with CUDA events around each launch;"
              + " median of 10-100 launches, cache copies rotated so each launch reads from"
              + " DRAM. Costs are one sequence's times the batch.\n\n");
      AttentionTables.gpu(sb, d.gpu());
      StringBuilder quantized = new StringBuilder();
      if (AttentionTables.gpuQuantized(quantized, d.gpu())) {
        sb.append("## Quantized latent on the GPU: decode, one layer\n\n")
            .append("The MLA rows above again with the latent stored as quantized codes (INT8,"
                + " FP8 OCP E4M3, INT4 two per byte), one BF16 scale per 64 columns and token,"
                + " read by the decode kernels directly (no full-precision copy): first with the"
                + " rope keys BF16, then with them quantized like the latent (the paper's int4"
                + " setting); then the MHA baselines with their keys and values in the same"
                + " formats, so that MLA and MHA can be compared at equal formats."
                + " BF16/INT8 and the like are the BF16 time over the quantized one:"
                + " above 1, the smaller cache is also faster. GB/s counts what each format"
                + " reads: codes, scales and rope keys. The kernel column names the first"
                + " format's kernel; gpu-results.json holds every row's (the other formats run"
                + " the same template).\n\n")
            .append(quantized);
      }
      AttentionTables.powerCapNote(sb, d.gpu().decode());
      AttentionTables.hostBoundNote(sb, d.gpu().decode(), d.gpu().prefill());
      if (d.gpu().prefill() != null && !d.gpu().prefill().isEmpty()) {
        sb.append("## MLA vs MHA on the GPU: prefill chunk, one layer, BF16 cache\n\n")
            .append("Causal attention of the last " + GpuSuite.PREFILL_TOKENS + " positions of"
                + " each sequence over a cache that holds them (device-resident, CUDA events, as"
                + " above; FLOPs count each query's causal keys). MLA: the absorbed kernel (the"
                + " MLA columns); MLA naive: the keys decompressed by cuBLAS and attended by the"
                + " MHA prefill kernel (MlaNaivePrefill, spec 4.1), where the kernel has an instance"
                + " for (d_r + d_nope, d_v): (64, 64), (128, 128), (192, 128).\n\n");
        AttentionTables.gpu(sb, d.gpu(), d.gpu().prefill());
      }
    }
  }

  private static void kernels(StringBuilder sb, List<JmhResult> jmh, Ceilings c,
      GpuResults gpu) {
    List<List<String>> rows = new ArrayList<>();
    for (JmhResult r : jmh) {
      String name = r.shortName();
      if (!name.startsWith("RopeBenchmark.") && !name.startsWith("ProjectionBenchmark.")) {
        continue;
      }
      boolean cuda = "cuda".equals(r.params().get("backend"));
      int t = r.workThreads();
      double bwFraction = cuda
          ? (gpu == null ? Double.NaN : r.bytesPerSecond() / 1e9
              / (name.startsWith("Rope") ? gpu.copyGBps() : gpu.readCeilingGBps()))
          : r.bytesPerSecond() / c.readBytesPerSecond(t);
      double fmaFraction = cuda ? Double.NaN : r.flopsPerSecond() / c.flopsPerSecond(t);
      String shape = name.startsWith("Rope") ? "32 heads, r 8, T " + r.params().get("tokens")
          : "W " + r.params().get("weight") + " " + r.params().get("dtype") + ", T "
              + r.params().get("tokens");
      rows.add(List.of(name.startsWith("Rope") ? "partial RoPE" : "linear y = x Wᵀ",
          r.params().get("backend"), shape, Md.micros(r.secondsPerOp() * 1e6),
          Md.num(r.bytesPerSecond() / 1e9, 1), Md.num(r.flopsPerSecond() / 1e9, 1),
          Md.percent(bwFraction), Md.percent(fmaFraction)));
    }
    if (rows.isEmpty()) {
      return;
    }
    sb.append("## Per-kernel suites: partial RoPE and the latent projections\n\n")
        .append("Llama-2-7B shapes: RoPE of 32 heads with 8 kept pairs each; W 4096x4096 is a"
            + " full projection, 512x4096 the MHA2MLA down-projection W_dkv at d_kv 16.\n\n");
    Md.table(sb, List.of("kernel", "backend", "shape", "time", "GB/s", "GFLOP/s", "% BW",
        "% FMA"), rows);
  }

  private static void formulas(StringBuilder sb) {
    sb.append("## How FLOPs and bytes are counted\n\n")
        .append("As FlashMLA and flash-attention count them (a multiply-add is 2 FLOPs; bytes"
            + " are the cache or weights read once), per layer at context N: MLA decode"
            + " `2·n_h·N·(d_r + 2L)` FLOPs over `N·(n_kv·d_r + L)·sizeof(cache)` bytes (d_r"
            + " instead of n_kv·d_r for DeepSeek's shared rope key); MHA decode `4·n_h·N·d_h`"
            + " FLOPs over `N·2·n_kv·d_h·sizeof(cache)` bytes. A prefill chunk of T queries"
            + " does the FLOPs of `T·N − T(T−1)/2` scores and reads the cache once. Linear"
            + " layer `2·T·out·in` FLOPs over `out·in·sizeof(W) + 4·T·(in + out)` bytes; partial"
            + " RoPE `6·T·n_h·r` FLOPs over `16·T·n_h·r` bytes. Definitions:"
            + " `dev.mla4j.bench.KernelCost`.\n");
  }
}
