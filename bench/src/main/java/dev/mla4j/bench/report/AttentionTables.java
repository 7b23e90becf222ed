package dev.mla4j.bench.report;

import dev.mla4j.bench.Ceilings;
import dev.mla4j.bench.CudaDecode;
import dev.mla4j.bench.DecodePreset;
import dev.mla4j.bench.JmhResult;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * MLA-vs-MHA tables: decode and prefill from JMH (one table per CPU backend) and GPU decode
 * from CUDA events. Each MLA row is paired with the MHA/GQA layer its preset replaces, measured
 * on the same backend at the same context.
 */
final class AttentionTables {
  private AttentionTables() {}

  /** Rows of {@code benchmark} ({@code DecodeBenchmark} or {@code PrefillBenchmark}). */
  static void cpu(StringBuilder sb, String benchmark, List<JmhResult> jmh, Ceilings ceilings) {
    TreeSet<String> backends = new TreeSet<>(Comparator.reverseOrder()); // simd before scalar
    jmh.stream().filter(r -> r.shortName().startsWith(benchmark + "."))
        .forEach(r -> backends.add(r.params().get("backend")));
    for (String backend : backends) {
      List<JmhResult> mla = jmh.stream()
          .filter(r -> r.shortName().equals(benchmark + ".mla")
              && backend.equals(r.params().get("backend")))
          .sorted(Comparator.comparing((JmhResult r) -> preset(r).ordinal())
              .thenComparingInt(r -> context(r)))
          .toList();
      if (mla.isEmpty()) {
        continue;
      }
      sb.append("**").append(backend).append("**, ").append(mla.get(0).workThreads())
          .append(" threads, ").append(mla.get(0).params().get("dtype")).append(" cache")
          .append(mla.get(0).params().containsKey("tokens")
              ? ", " + mla.get(0).params().get("tokens") + " query tokens" : "")
          .append(":\n\n");
      List<List<String>> rows = new ArrayList<>();
      for (JmhResult m : mla) {
        Optional<JmhResult> h = baseline(jmh, benchmark, m);
        double mt = m.secondsPerOp() * 1e6;
        double ht = h.map(r -> r.secondsPerOp() * 1e6).orElse(Double.NaN);
        int t = m.workThreads();
        double read = ceilings.readBytesPerSecond(t);
        rows.add(List.of(preset(m).label(), Md.tokens(context(m)),
            Md.bytes(m.cost().orElseThrow().bytes()) + " → "
                + h.map(r -> Md.bytes(r.cost().orElseThrow().bytes())).orElse("-"),
            Md.micros(mt), Md.micros(ht), Md.times(ht / mt),
            Md.num(m.bytesPerSecond() / 1e9, 1), Md.num(m.flopsPerSecond() / 1e9, 1),
            Md.percent(m.bytesPerSecond() / read),
            Md.percent(m.flopsPerSecond() / ceilings.flopsPerSecond(t)),
            h.map(r -> Md.num(r.bytesPerSecond() / 1e9, 1)).orElse("-"),
            h.map(r -> Md.percent(r.bytesPerSecond() / read)).orElse("-")));
      }
      Md.table(sb, List.of("preset", "N", "cache MLA → MHA", "MLA", "MHA", "MHA/MLA",
          "MLA GB/s", "MLA GFLOP/s", "MLA % BW", "MLA % FMA", "MHA GB/s", "MHA % BW"), rows);
    }
  }

  /** The MHA result measuring the baseline layer of {@code mla}'s preset, same everything else. */
  private static Optional<JmhResult> baseline(List<JmhResult> jmh, String benchmark,
      JmhResult mla) {
    DecodePreset p = preset(mla);
    return jmh.stream().filter(r -> r.shortName().equals(benchmark + ".mha")
        && preset(r).mha().equals(p.mha())
        && sameExcept(r.params(), mla.params(), "preset")).findFirst();
  }

  private static boolean sameExcept(Map<String, String> a, Map<String, String> b, String key) {
    if (a.size() != b.size()) {
      return false;
    }
    return a.entrySet().stream()
        .allMatch(e -> e.getKey().equals(key) || Objects.equals(e.getValue(), b.get(e.getKey())));
  }

  static DecodePreset preset(JmhResult r) {
    return DecodePreset.named(r.params().get("preset"));
  }

  static int context(JmhResult r) {
    return Integer.parseInt(r.params().get("context"));
  }

  /** GPU decode: MLA and its baseline per preset, batch and context. */
  static void gpu(StringBuilder sb, GpuResults gpu) {
    gpu(sb, gpu, gpu.decode());
  }

  /**
   * GPU rows of one kind (decode or prefill): MLA and its baseline per preset, batch, context,
   * and the naive-form MLA prefill ({@code mla-naive} rows) in its own column where measured.
   */
  static void gpu(StringBuilder sb, GpuResults gpu, List<CudaDecode.Row> all) {
    List<List<String>> rows = new ArrayList<>();
    boolean naive = all.stream().anyMatch(r -> r.kind().equals("mla-naive"));
    List<CudaDecode.Row> mla = sorted(all, "mla", "BF16");
    for (CudaDecode.Row m : mla) {
      DecodePreset p = DecodePreset.named(m.shape());
      CudaDecode.Row h = all.stream().filter(r -> r.kind().equals("mha")
              && r.cacheFormat().equals("BF16")  // the quantized MHA rows have their own table
              && DecodePreset.named(r.shape()).mha().equals(p.mha()) && r.batch() == m.batch()
              && r.context() == m.context())
          .findFirst().orElse(null);
      CudaDecode.Row nv = sameCase(all, "mla-naive", "BF16", m);
      double ht = h == null ? Double.NaN : h.medianMicros();
      List<String> row = new ArrayList<>(List.of(p.label(), Integer.toString(m.batch()),
          Md.tokens(m.context()), cell(m)));
      if (naive) {
        row.add(nv == null ? "-" : cell(nv));
      }
      row.addAll(List.of(h == null ? "-" : cell(h), Md.times(ht / m.medianMicros()),
          Md.num(m.gbps(), 0), Md.num(m.tflops(), 2), Md.percent(m.gbps() / gpu.readCeilingGBps()),
          gpu.tensorCoreTflops() > 0 ? Md.percent(m.tflops() / gpu.tensorCoreTflops()) : "-",
          h == null ? "-" : Md.num(h.gbps(), 0),
          h == null ? "-" : Md.percent(h.gbps() / gpu.readCeilingGBps()), m.kernel()));
      rows.add(row);
    }
    List<String> header = new ArrayList<>(List.of("preset", "batch", "N", "MLA"));
    if (naive) {
      header.add("MLA naive");
    }
    header.addAll(List.of("MHA", "MHA/MLA", "MLA GB/s", "MLA TFLOP/s", "MLA % read BW",
        "MLA % TC", "MHA GB/s", "MHA % read BW", "MLA kernel"));
    Md.table(sb, header, rows);
  }

  /** The row of {@code kind} and cache {@code format} measured at {@code of}'s shape, batch and context. */
  private static CudaDecode.Row sameCase(List<CudaDecode.Row> all, String kind, String format,
      CudaDecode.Row of) {
    return all.stream().filter(r -> r.kind().equals(kind) && r.cacheFormat().equals(format)
            && r.shape().equals(of.shape()) && r.batch() == of.batch()
            && r.context() == of.context())
        .findFirst().orElse(null);
  }

  /** Rows of {@code kind} (mla, mha) and one cache format, by preset, batch and context. */
  private static List<CudaDecode.Row> sorted(List<CudaDecode.Row> all, String kind,
      String format) {
    return all.stream().filter(r -> r.kind().equals(kind) && r.cacheFormat().equals(format))
        .sorted(Comparator.comparing((CudaDecode.Row r) -> DecodePreset.named(r.shape()).ordinal())
            .thenComparingInt(CudaDecode.Row::batch).thenComparingInt(CudaDecode.Row::context))
        .toList();
  }

  /**
   * GPU decode with a quantized latent: each BF16 MLA row beside the same case read in every
   * quantized format of the results (the report's: INT8, FP8 and INT4 codes,
   * {@link CudaDecode#QUANTIZED}), one table for the formats that keep the rope keys BF16 and
   * one for those that quantize them too, and one for the MHA baselines with their keys and
   * values in those formats (where measured); {@code ×} is the BF16 time over the quantized one
   * (above 1: the quantized cache is faster), GB/s counts the bytes each format reads. False
   * where the results hold no quantized rows (files of older runs), and then nothing is written.
   */
  static boolean gpuQuantized(StringBuilder sb, GpuResults gpu) {
    Map<Boolean, List<String>> byRope = formats(gpu, "mla").stream()
        .collect(Collectors.partitioningBy(f -> f.contains(" rope ")));
    List<String> mha = formats(gpu, "mha");
    if (byRope.get(false).isEmpty() && byRope.get(true).isEmpty() && mha.isEmpty()) {
      return false;
    }
    if (!byRope.get(false).isEmpty()) {
      sb.append("Rope keys BF16:\n\n");
      quantizedTable(sb, gpu, "mla", byRope.get(false));
    }
    if (!byRope.get(true).isEmpty()) {
      sb.append("Rope keys quantized like the latent (same codes and group size):\n\n");
      quantizedTable(sb, gpu, "mla", byRope.get(true));
    }
    if (!mha.isEmpty()) {
      sb.append("The MHA baselines with their keys and values in the same formats (the"
          + " memory-bound MHA decode kernel):\n\n");
      quantizedTable(sb, gpu, "mha", mha);
    }
    return true;
  }

  /** The quantized cache formats of the results' {@code kind} rows, in the order measured. */
  private static List<String> formats(GpuResults gpu, String kind) {
    return gpu.decode().stream().filter(r -> r.kind().equals(kind))
        .map(CudaDecode.Row::cacheFormat).filter(f -> !f.equals("BF16")).distinct().toList();
  }

  /**
   * One table of {@link #gpuQuantized}: the BF16 rows of {@code kind} beside {@code formats}'
   * same cases. An MHA row is labelled by its model (several presets share one baseline).
   */
  private static void quantizedTable(StringBuilder sb, GpuResults gpu, String kind,
      List<String> formats) {
    List<List<String>> rows = new ArrayList<>();
    for (CudaDecode.Row b : sorted(gpu.decode(), kind, "BF16")) {
      DecodePreset p = DecodePreset.named(b.shape());
      List<String> row = new ArrayList<>(List.of(kind.equals("mla") ? p.label()
          : p.model() + " MHA", Integer.toString(b.batch()), Md.tokens(b.context()), cell(b)));
      List<String> rates = new ArrayList<>(List.of(Md.num(b.gbps(), 0)));
      String kernel = "-";
      for (String f : formats) {
        CudaDecode.Row q = sameCase(gpu.decode(), kind, f, b);
        row.add(q == null ? "-" : cell(q));
        row.add(q == null ? "-" : Md.times(b.medianMicros() / q.medianMicros()));
        rates.add(q == null ? "-" : Md.num(q.gbps(), 0));
        if (q != null && kernel.equals("-")) {
          kernel = q.kernel();
        }
      }
      row.addAll(rates);
      row.add(kernel);
      rows.add(row);
    }
    // INT8 g64 -> INT8, INT8 g64 rope INT8 -> INT8+rope
    List<String> names = formats.stream()
        .map(f -> f.split(" ")[0] + (f.contains(" rope ") ? "+rope" : "")).toList();
    List<String> header = new ArrayList<>(List.of("preset", "batch", "N", "BF16"));
    for (int i = 0; i < formats.size(); i++) {
      header.addAll(List.of(formats.get(i), "BF16/" + names.get(i)));
    }
    header.add("BF16 GB/s");
    names.forEach(n -> header.add(n + " GB/s"));
    header.add(names.get(0) + " kernel");
    Md.table(sb, header, rows);
  }

  /** The part of a row's timed window at the power limit above which the report names it. */
  static final double POWER_CAP_NOTE = 0.05;

  /**
   * Counts, per kind and cache format, the decode rows timed while the GPU was held below its
   * clocks by its power limit for more than {@link #POWER_CAP_NOTE} of their window (NVML,
   * {@code PowerCapClock}; each row's share is in gpu-results.json): such times depend on how long
   * the board had been at its limit. Nothing is written when no row measured it (older results).
   */
  static void powerCapNote(StringBuilder sb, List<CudaDecode.Row> rows) {
    Map<String, int[]> counts = new LinkedHashMap<>();  // "MLA INT8 g64" -> {capped, measured}
    for (CudaDecode.Row r : rows) {
      if (r.powerCapped() != null) {
        int[] c = counts.computeIfAbsent(r.kind().toUpperCase() + " " + r.cacheFormat(),
            k -> new int[2]);
        c[0] += r.powerCapped() > POWER_CAP_NOTE ? 1 : 0;
        c[1]++;
      }
    }
    if (counts.isEmpty()) {
      return;
    }
    List<String> parts = new ArrayList<>();
    counts.forEach((k, c) -> parts.add(k + " " + c[0] + " of " + c[1]));
    sb.append("Rows timed for more than ").append(Md.percent(POWER_CAP_NOTE))
        .append(" of their window at the GPU's power limit (NVML): ")
        .append(String.join(", ", parts))
        .append(". Their times depend on how long the board had been at its limit.\n\n");
  }

  /**
   * Names the rows timed from CUDA graph replays because their direct launches stayed host-bound
   * after the bench's warm-ups ({@code CudaDecode.timeWarm}, {@code timeReplays}), and the rows
   * whose launches the host still queued no faster than the GPU ran them: their times are the
   * launch path's (FFM calls, a split merge's second launch), upper bounds on the kernels'.
   * Nothing is written when there are none (or older results, which did not check).
   */
  static void hostBoundNote(StringBuilder sb, List<CudaDecode.Row> decode,
      List<CudaDecode.Row> prefill) {
    List<String> replayed = new ArrayList<>();
    List<String> named = new ArrayList<>();
    for (List<CudaDecode.Row> rows : java.util.Arrays.asList(decode, prefill)) {
      for (CudaDecode.Row r : rows == null ? List.<CudaDecode.Row>of() : rows) {
        if (r.skipped() != null) {
          continue;
        }
        DecodePreset p = DecodePreset.named(r.shape());
        String label = (r.kind().equals("mla") ? p.label() : p.model() + " "
            + r.kind().toUpperCase()) + " " + r.cacheFormat()
            + (rows == prefill ? " prefill" : " batch " + r.batch()) + " " + Md.tokens(r.context());
        if (r.kernel() != null && r.kernel().endsWith(CudaDecode.GRAPH_REPLAYS)) {
          replayed.add(label);
        }
        if (Boolean.TRUE.equals(r.hostBound())) {
          named.add(label);
        }
      }
    }
    if (!replayed.isEmpty()) {
      sb.append("Timed from CUDA graph replays (`CudaGraph`, one `cuGraphLaunch` a step), since"
          + " the host queued their direct launches at the GPU's pace: ")
          .append(String.join(", ", replayed)).append(".\n\n");
    }
    if (named.isEmpty()) {
      return;
    }
    sb.append("Host-bound rows (the host queued each launch in at least ")
        .append(Md.percent(CudaDecode.HOST_BOUND_SHARE))
        .append(" of its GPU time after 1 s of warm-up, so the time shown is the launch path's,"
            + " an upper bound on the kernel's): ")
        .append(String.join(", ", named)).append(".\n\n");
  }

  private static String cell(CudaDecode.Row r) {
    return r.skipped() != null ? "skipped (" + r.skipped() + ")" : Md.micros(r.medianMicros());
  }
}
