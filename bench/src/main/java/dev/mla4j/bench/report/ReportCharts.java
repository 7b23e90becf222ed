package dev.mla4j.bench.report;

import dev.mla4j.bench.CudaDecode;
import dev.mla4j.bench.DecodePreset;
import dev.mla4j.bench.JmhResult;
import dev.mla4j.tensor.DType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Which charts a report has and their data: decode time vs context per model (CPU from JMH,
 * GPU from CUDA events), cache bytes vs context per model, tokens that fit in the budget.
 * One chart per model rather than per preset: its three d_kv presets share the MHA line.
 */
public final class ReportCharts {
  private static final List<Integer> CACHE_CONTEXTS =
      List.of(1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072);

  private ReportCharts() {}

  /** Writes the SVGs into {@code dir}; returns file name → caption, in report order. */
  public static Map<String, String> write(Path dir, ReportData d) throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    for (String model : models()) {
      Map<String, double[][]> series = cpuDecode(d.jmh(), model);
      if (!series.isEmpty()) {
        String caption = "Decode time per layer vs context, " + model + " (CPU)";
        put(dir, out, "decode-" + slug(model) + ".svg", caption, Charts.lines(caption,
            "context N (tokens)", "decode step, one layer (µs)", series, true));
      }
    }
    if (d.gpu() != null) {
      for (String model : models()) {
        Map<String, double[][]> series = gpuDecode(d.gpu(), model);
        if (!series.isEmpty()) {
          String caption = "GPU decode time per layer vs context, " + model;
          put(dir, out, "gpu-decode-" + slug(model) + ".svg", caption, Charts.lines(caption,
              "context N (tokens)", "decode step, one layer, whole batch (µs)", series, true));
        }
      }
    }
    for (String model : models()) {
      String caption = "Cache of one sequence vs context, " + model + " (BF16, all layers)";
      put(dir, out, "cache-" + slug(model) + ".svg", caption, Charts.lines(caption,
          "context N (tokens)", "cache (MiB)", cacheSeries(model), true));
    }
    String caption = "Tokens that fit in " + Md.bytes(d.budgetBytes()) + " of BF16 cache";
    put(dir, out, "tokens-in-budget.svg", caption, Charts.bars(caption, "preset",
        "tokens of one sequence (millions)", tokensInBudget(d.budgetBytes())));
    return out;
  }

  private static void put(Path dir, Map<String, String> out, String file, String caption,
      String svg) throws IOException {
    Files.writeString(dir.resolve(file), svg, StandardCharsets.UTF_8);
    out.put(file, caption);
  }

  private static List<String> models() {
    List<String> models = new ArrayList<>();
    for (DecodePreset p : DecodePreset.values()) {
      if (!models.contains(p.model())) {
        models.add(p.model());
      }
    }
    return models;
  }

  static String slug(String model) {
    return model.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
  }

  /** Series "MHA/GQA (simd)" and "MLA d_kv 16 (simd)" etc. of DecodeBenchmark results. */
  private static Map<String, double[][]> cpuDecode(List<JmhResult> jmh, String model) {
    Map<String, List<double[]>> points = new LinkedHashMap<>();
    for (JmhResult r : jmh) {
      boolean mla = r.shortName().equals("DecodeBenchmark.mla");
      if (!mla && !r.shortName().equals("DecodeBenchmark.mha")) {
        continue;
      }
      DecodePreset p = AttentionTables.preset(r);
      if (!p.model().equals(model)) {
        continue;
      }
      String name = (mla ? "MLA " + dKv(p) : "MHA/GQA") + " (" + r.params().get("backend") + ")";
      points.computeIfAbsent(name, k -> new ArrayList<>())
          .add(new double[] {AttentionTables.context(r), r.secondsPerOp() * 1e6});
    }
    return arrays(points);
  }

  private static Map<String, double[][]> gpuDecode(GpuResults gpu, String model) {
    Map<String, List<double[]>> points = new LinkedHashMap<>();
    for (CudaDecode.Row r : gpu.decode()) {
      DecodePreset p = DecodePreset.named(r.shape());
      if (!p.model().equals(model) || r.skipped() != null || !r.cacheFormat().equals("BF16")) {
        continue; // the charts compare MLA and MHA on a BF16 cache; quantized rows are tabled
      }
      String name = (r.kind().equals("mla") ? "MLA " + dKv(p) : "MHA/GQA") + ", batch " + r.batch();
      points.computeIfAbsent(name, k -> new ArrayList<>())
          .add(new double[] {r.context(), r.medianMicros()});
    }
    return arrays(points);
  }

  private static String dKv(DecodePreset p) {
    return p.dKv() > 0 ? "d_kv " + p.dKv() : "(latent 512 + rope 64)";
  }

  private static Map<String, double[][]> cacheSeries(String model) {
    Map<String, List<double[]>> points = new LinkedHashMap<>();
    for (CacheSizes.Row r : CacheSizes.compute(presetsOf(model),
        List.of(new CacheFormat.Plain(DType.BF16)))) {
      for (int n : CACHE_CONTEXTS) {
        points.computeIfAbsent("MHA/GQA", k -> new ArrayList<>())
            .add(new double[] {n, r.mhaBytes(n) / (double) (1 << 20)});
      }
      for (int n : CACHE_CONTEXTS) {
        points.computeIfAbsent("MLA " + dKv(r.preset()), k -> new ArrayList<>())
            .add(new double[] {n, r.mlaBytes(n) / (double) (1 << 20)});
      }
    }
    return arrays(points);
  }

  private static Map<String, Map<String, Double>> tokensInBudget(long budget) {
    Map<String, Map<String, Double>> values = new LinkedHashMap<>();
    for (CacheSizes.Row r : CacheSizes.compute(List.of(DecodePreset.values()),
        List.of(new CacheFormat.Plain(DType.BF16)))) {
      values.computeIfAbsent("MHA/GQA", k -> new LinkedHashMap<>())
          .put(r.preset().label(), r.mhaTokensFitting(budget) / 1e6);
      values.computeIfAbsent("MLA", k -> new LinkedHashMap<>())
          .put(r.preset().label(), r.mlaTokensFitting(budget) / 1e6);
    }
    return values;
  }

  private static List<DecodePreset> presetsOf(String model) {
    return List.of(DecodePreset.values()).stream().filter(p -> p.model().equals(model)).toList();
  }

  private static Map<String, double[][]> arrays(Map<String, List<double[]>> points) {
    Map<String, double[][]> out = new LinkedHashMap<>();
    points.forEach((k, v) -> out.put(k, v.toArray(double[][]::new)));
    return out;
  }
}
