package dev.mla4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.bench.CudaDecode;
import dev.mla4j.bench.JmhResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Markdown of a small synthetic JMH JSON. Expected numbers are worked out by hand here from
 * the spec's shapes and the FlashMLA-style formulas, not by the code under test.
 */
class MarkdownReportTest {
  @TempDir
  Path dir;

  /** A JMH JSON entry with one measured value (the median). */
  static String entry(String benchmark, int threads, String params, double median,
      String unit) {
    return """
        {"benchmark":"dev.mla4j.bench.%s","mode":"avgt","threads":%d,"forks":1,
         "params":{%s},
         "primaryMetric":{"score":%s,"scoreUnit":"%s","scorePercentiles":{"50.0":%s}}}"""
        .formatted(benchmark, threads, params, median, unit, median);
  }

  static List<JmhResult> synthetic(Path dir) throws IOException {
    String decode = "\"backend\":\"simd\",\"preset\":\"SMOLLM_135M_DKV16\",\"context\":\"1024\","
        + "\"dtype\":\"BF16\",\"threads\":\"2\"";
    String json = "[" + String.join(",",
        entry("CeilingBenchmark.readAllT", 2, "\"arrayMiB\":\"64\"", 2000, "us/op"),
        entry("DecodeBenchmark.mla", 1, decode, 10, "us/op"),
        entry("DecodeBenchmark.mha", 1, decode, 20, "us/op")) + "]";
    Path file = dir.resolve("jmh.json");
    Files.writeString(file, json);
    return JmhResult.read(file);
  }

  static ReportData data(List<JmhResult> jmh, GpuResults gpu) {
    Environment env = new Environment("Test CPU", 2, 8L << 30, "Linux", "JDK 25", "256 bits",
        List.of("simd"), gpu == null ? null : "Test GPU", "quick", "2026-01-01 00:00 UTC", 61, 0.5, 3.0);
    return new ReportData(env, "kernel ok", true, jmh, gpu, 16L << 30, List.of());
  }

  /** The cells of the table row starting with {@code prefix}. */
  static List<String> row(String md, String prefix) {
    String line = md.lines().filter(l -> l.startsWith(prefix)).findFirst()
        .orElseThrow(() -> new AssertionError("no row " + prefix + " in\n" + md));
    return List.of(line.substring(2, line.length() - 2).split(" \\| "));
  }

  @Test
  void decodeRowHasHandComputedNumbers() throws IOException {
    String md = MarkdownReport.render(data(synthetic(dir), null), Map.of());
    // read ceiling: 2 threads each read 32 MiB per 2000 µs → 2 · 33,554,432 B / 2 ms = 33.55 GB/s
    assertEquals(List.of("CPU read bandwidth", "2", "33.6 GB/s"), row(md, "| CPU read bandwidth"));
    List<String> r = row(md, "| SmolLM-135M d_kv 16 | 1K |");
    // MLA cache: 1024 tokens × (3·8 + 48) × 2 B = 147,456 B = 144 KiB; MHA 1024 × 2·3·64 × 2 B
    assertEquals("144.00 KiB → 768.00 KiB", r.get(2));
    assertEquals("10.0 µs", r.get(3));
    assertEquals("20.0 µs", r.get(4));
    assertEquals("2.00×", r.get(5));
    assertEquals("14.7", r.get(6)); // 147,456 B / 10 µs
    assertEquals("191.7", r.get(7)); // 2·9·1024·(8 + 2·48) = 1,916,928 FLOPs / 10 µs
    assertEquals("44%", r.get(8)); // 14.75 / 33.55
    assertEquals("-", r.get(9)); // no FMA probe in this JSON
    assertEquals("39.3", r.get(10)); // 786,432 B / 20 µs
    assertEquals("117%", r.get(11));
  }

  @Test
  void headerCacheSectionAndCharts() throws IOException {
    String md = MarkdownReport.render(data(synthetic(dir), null),
        Map.of("tokens-in-budget.svg", "Tokens that fit"));
    assertTrue(md.contains("Test CPU, 2 processors"), md);
    assertTrue(md.contains("Profile **quick**") && md.contains("wall time 1:01"), md);
    assertTrue(md.contains("| 256 bits |"), md);
    assertTrue(md.contains("0.50 at the start, 3.00 at the end") && md.contains("CPUs were shared"),
        md);
    // spec 5.3: SmolLM-135M d_kv 8 BF16 23,040 → 2,880 B/token, −87.50%;
    // 16 GiB / 2,880 B = 5,965,232 tokens
    assertEquals(List.of("SmolLM-135M d_kv 8", "30", "9/3/64", "24 + 24", "BF16", "2,880",
        "23,040", "−87.50%", "−87.50%", "5,965,232", "745,654"), row(md, "| SmolLM-135M d_kv 8 | 30 | 9/3/64 | 24 + 24 | BF16"));
    // int4, groups of 128, rope keys int4, Llama-2-7B d_kv 16, per layer: latent 512/2 code bytes
    // + 4 BF16 scales = 264; 32 rope keys of 16: 8 code bytes + 1 scale = 10 each, 320; 584 B x
    // 32 layers = 18,688 B against the BF16 MHA cache's 524,288: −96.44% (paper, no scales: −96.87%)
    List<String> int4 = row(md, "| Llama-2-7B d_kv 16 | 32 | 32/32/128 | 512 + 512 | INT4 g128, rope INT4");
    assertEquals("18,688", int4.get(5));
    assertEquals("−96.44%", int4.get(8));
    // fp8 g64 costs int8 g64's bytes: per layer 512 code bytes + 8 BF16 scales = 528 B, plus
    // the BF16 rope keys 32 x 16 x 2 = 1,024 B; x 32 layers = 49,664 B
    List<String> fp8 = row(md, "| Llama-2-7B d_kv 16 | 32 | 32/32/128 | 512 + 512 | FP8 g64, rope BF16");
    List<String> int8 = row(md, "| Llama-2-7B d_kv 16 | 32 | 32/32/128 | 512 + 512 | INT8 g64, rope BF16");
    assertEquals("49,664", fp8.get(5));
    assertEquals(int8.subList(5, int8.size()), fp8.subList(5, fp8.size()));
    assertTrue(md.contains("the GPU's native 8-bit format"), md);
    assertTrue(md.contains("![Tokens that fit](tokens-in-budget.svg)"), md);
    assertFalse(md.contains("on the GPU"), "no GPU section without GPU results");
  }

  @Test
  void gpuSectionPairsMlaWithItsBaseline() throws IOException {
    GpuResults gpu = gpuResults(3300);
    String md = MarkdownReport.render(data(synthetic(dir), gpu), Map.of());
    assertTrue(md.contains("| GPU device-to-device copy (read + write) |  | 3,000 GB/s |"), md);
    assertTrue(md.contains("| GPU streaming read |  | 3,300 GB/s |"), md);
    assertTrue(md.contains("| GPU BF16 tensor cores (dense; faster of mma.sync and sm_90 wgmma) |  | 600 TFLOP/s |"), md);
    List<String> r = row(md, "| Llama-2-7B d_kv 16 | 1 | 4K |");
    assertEquals("50.0 µs", r.get(3));
    assertEquals("25.0 µs", r.get(4)); // the d_kv 32 preset's MHA is the same layer
    assertEquals("0.50×", r.get(5));
    assertEquals("5%", r.get(8)); // 167.8 / 3300, the read ceiling
    assertEquals("5%", r.get(9)); // 30 / 600 TFLOP/s
    assertEquals("81%", r.get(11)); // 2684.4 / 3300
    assertTrue(row(md, "| Llama-2-7B d_kv 16 | 64 | 128K |").get(3).contains("cache too big"));
    String prefill = md.substring(md.indexOf("on the GPU: prefill chunk"));
    List<String> p = row(prefill, "| Llama-2-7B d_kv 16 | 1 | 4K |");
    assertEquals("80.0 µs", p.get(3));
    assertEquals("30.0 µs", p.get(4)); // the naive-form MLA column, prefill only
    assertEquals("40.0 µs", p.get(5));
    assertEquals("0.50×", p.get(6));
    assertEquals("10%", p.get(10)); // 60 / 600 TFLOP/s
    assertFalse(md.substring(0, md.indexOf("on the GPU: prefill chunk")).contains("MLA naive"));
    String section = md.substring(md.indexOf("## Quantized latent on the GPU"));
    int split = section.indexOf("Rope keys quantized like the latent");
    assertTrue(split > 0, section);
    String latent = section.substring(0, split);
    String rope = section.substring(split);
    assertTrue(latent.contains("| preset | batch | N | BF16 | INT8 g64 | BF16/INT8 | FP8 g64 |"
        + " BF16/FP8 | BF16 GB/s | INT8 GB/s | FP8 GB/s | INT8 kernel |"), latent);
    List<String> q = row(latent, "| Llama-2-7B d_kv 16 | 1 | 4K |");
    assertEquals(List.of("50.0 µs", "40.0 µs", "1.25×", "62.5 µs", "0.80×", "168", "159",
        "102", "mma_int8"), q.subList(3, q.size()));
    assertEquals(List.of("-", "-", "-", "-"), row(latent, "| Llama-2-7B d_kv 16 | 64 | 128K |")
        .subList(4, 8), "a BF16 row without quantized ones");
    assertTrue(rope.contains("| preset | batch | N | BF16 | INT8 g64 rope INT8 | BF16/INT8+rope |"
        + " BF16 GB/s | INT8+rope GB/s | INT8+rope kernel |"), rope);
    List<String> qr = row(rope, "| Llama-2-7B d_kv 16 | 1 | 4K |");
    assertEquals(List.of("50.0 µs", "100.0 µs", "0.50×", "168", "45", "mma_int8_qrope"),
        qr.subList(3, qr.size()));
    // the MHA baseline (shared by the d_kv 16 and 32 presets) in its own table, by model
    String mha = rope.substring(rope.indexOf("The MHA baselines"));
    assertTrue(mha.contains("| preset | batch | N | BF16 | INT8 g64 | BF16/INT8 | BF16 GB/s |"
        + " INT8 GB/s | INT8 kernel |"), mha);
    assertEquals(List.of("25.0 µs", "20.0 µs", "1.25×", "2,684", "1,700", "mha_int8"),
        row(mha, "| Llama-2-7B MHA | 1 | 4K |").subList(3, 9));
    assertFalse(rope.substring(0, rope.indexOf("The MHA baselines")).contains("MHA |"), rope);
  }

  @Test
  void resultsWithoutTheReadProbeUseTheCopyCeiling() throws IOException {
    String md = MarkdownReport.render(data(synthetic(dir), gpuResults(0)), Map.of());
    assertFalse(md.contains("GPU streaming read"), md);
    List<String> r = row(md, "| Llama-2-7B d_kv 16 | 1 | 4K |");
    assertEquals("6%", r.get(8)); // 167.8 / 3000
    assertEquals("89%", r.get(11)); // 2684.4 / 3000
  }

  @Test
  void rowsTimedAtThePowerLimitAreCounted() throws IOException {
    String plain = MarkdownReport.render(data(synthetic(dir), gpuResults(3300)), Map.of());
    assertFalse(plain.contains("power limit"), plain);  // no row measured it
    GpuResults base = gpuResults(3300);
    List<CudaDecode.Row> decode = new ArrayList<>(base.decode());
    decode.set(4, withPowerCapped(decode.get(4), 0.4));   // MLA INT8: counted
    decode.set(0, withPowerCapped(decode.get(0), 0.05));  // MLA BF16 at the threshold: not
    decode.set(2, withPowerCapped(decode.get(2), 1.0));   // MHA BF16: counted
    decode.set(5, withPowerCapped(decode.get(5), 0.0));   // MLA FP8: measured, not counted
    GpuResults gpu = new GpuResults(base.device(), base.copyGBps(), base.readGBps(),
        base.tensorCoreTflops(), decode, base.prefill());
    String md = MarkdownReport.render(data(synthetic(dir), gpu), Map.of());
    String note = md.lines().filter(l -> l.startsWith("Rows timed for more than 5%")).findFirst()
        .orElseThrow(() -> new AssertionError(md));
    assertTrue(note.contains(": MLA BF16 0 of 1, MHA BF16 1 of 1, MLA INT8 g64 1 of 1, "
        + "MLA FP8 g64 0 of 1."), note);  // the skipped row measured nothing
  }

  @Test
  void hostBoundRowsAreNamed() throws IOException {
    String plain = MarkdownReport.render(data(synthetic(dir), gpuResults(3300)), Map.of());
    assertFalse(plain.contains("Host-bound rows"), plain);  // no row checked
    GpuResults base = gpuResults(3300);
    List<CudaDecode.Row> decode = new ArrayList<>(base.decode());
    decode.set(2, withHostBound(decode.get(2), true));   // MHA BF16: named
    decode.set(0, withHostBound(decode.get(0), false));  // MLA BF16: checked, not host-bound
    GpuResults gpu = new GpuResults(base.device(), base.copyGBps(), base.readGBps(),
        base.tensorCoreTflops(), decode, base.prefill());
    String md = MarkdownReport.render(data(synthetic(dir), gpu), Map.of());
    String note = md.lines().filter(l -> l.startsWith("Host-bound rows")).findFirst()
        .orElseThrow(() -> new AssertionError(md));
    CudaDecode.Row named = decode.get(2);
    assertTrue(note.endsWith("): Llama-2-7B MHA BF16 batch " + named.batch() + " 4K."), note);
  }

  @Test
  void graphReplayedRowsAreNamed() throws IOException {
    GpuResults base = gpuResults(3300);
    List<CudaDecode.Row> decode = new ArrayList<>(base.decode());
    CudaDecode.Row r = decode.get(0);  // MLA BF16, re-timed from graph replays, not host-bound
    decode.set(0, new CudaDecode.Row(r.kind(), r.shape(), r.batch(), r.context(), r.splits(),
        r.sharedBytes(), r.medianMicros(), r.p10Micros(), r.p90Micros(), r.gbps(), r.tflops(),
        r.kernel() + CudaDecode.GRAPH_REPLAYS, r.skipped(), r.cache(), r.powerCapped(), false));
    GpuResults gpu = new GpuResults(base.device(), base.copyGBps(), base.readGBps(),
        base.tensorCoreTflops(), decode, base.prefill());
    String md = MarkdownReport.render(data(synthetic(dir), gpu), Map.of());
    String note = md.lines().filter(l -> l.startsWith("Timed from CUDA graph replays"))
        .findFirst().orElseThrow(() -> new AssertionError(md));
    assertTrue(note.endsWith(" BF16 batch 1 4K."), note);
    assertFalse(note.contains("MHA"), note);
    assertFalse(md.contains("Host-bound rows"), md);
  }

  private static CudaDecode.Row withHostBound(CudaDecode.Row r, boolean host) {
    return new CudaDecode.Row(r.kind(), r.shape(), r.batch(), r.context(), r.splits(),
        r.sharedBytes(), r.medianMicros(), r.p10Micros(), r.p90Micros(), r.gbps(), r.tflops(),
        r.kernel(), r.skipped(), r.cache(), r.powerCapped(), host);
  }

  private static CudaDecode.Row withPowerCapped(CudaDecode.Row r, double capped) {
    return new CudaDecode.Row(r.kind(), r.shape(), r.batch(), r.context(), r.splits(),
        r.sharedBytes(), r.medianMicros(), r.p10Micros(), r.p90Micros(), r.gbps(), r.tflops(),
        r.kernel(), r.skipped(), r.cache(), capped);
  }

  /** Copy 3000 GB/s, read {@code readGBps}, 600 TFLOP/s; decode and prefill rows of d_kv 16. */
  private static GpuResults gpuResults(double readGBps) {
    return new GpuResults("Test GPU", 3000, readGBps, 600, List.of(
        new CudaDecode.Row("mla", "LLAMA2_7B_DKV16", 1, 4096, 8, 0, 50, 49, 51, 167.8, 30.0,
            "mma", null),
        new CudaDecode.Row("mha", "LLAMA2_7B_DKV32", 1, 4096, 8, 0, 20, 19, 21, 1700.0, 0.9,
            "mha_int8", null, "INT8 g64"),  // before its BF16 row: the pairing reads the format
        new CudaDecode.Row("mha", "LLAMA2_7B_DKV32", 1, 4096, 8, 0, 25, 24, 26, 2684.4, 0.7,
            "mha", null),
        new CudaDecode.Row("mla", "LLAMA2_7B_DKV16", 64, 131072, 0, 0, Double.NaN, Double.NaN,
            Double.NaN, Double.NaN, Double.NaN, "", "cache too big"),
        new CudaDecode.Row("mla", "LLAMA2_7B_DKV16", 1, 4096, 8, 0, 40, 39, 41, 159.0, 37.5,
            "mma_int8", null, "INT8 g64"),
        new CudaDecode.Row("mla", "LLAMA2_7B_DKV16", 1, 4096, 8, 0, 62.5, 61, 63, 101.7, 24.0,
            "mma_fp8", null, "FP8 g64"),
        new CudaDecode.Row("mla", "LLAMA2_7B_DKV16", 1, 4096, 8, 0, 100, 99, 101, 45.2, 15.0,
            "mma_int8_qrope", null, "INT8 g64 rope INT8")),
        List.of(new CudaDecode.Row("mla", "LLAMA2_7B_DKV16", 1, 4096, 16, 0, 80, 79, 81, 100, 60,
            "mma", null), new CudaDecode.Row("mha", "LLAMA2_7B_DKV16", 1, 4096, 8, 0, 40, 39, 41,
            1600, 2, "mha", null), new CudaDecode.Row("mla-naive", "LLAMA2_7B_DKV16", 1, 4096, 0,
            0, 30, 29, 31, 300, 200, "prefill+cublas", null)));
  }
}
