package dev.mla4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backends;
import dev.mla4j.bench.CudaDecode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The report's GPU path on a real GPU: the smoke profile's CUDA-event decode sweep and the GPU
 * section of the Markdown. Skipped with the reason where the cuda backend cannot run.
 */
@Tag("gpu")
class GpuReportTest {
  @Test
  void smokeSweepMeasuresAndRenders() {
    Optional<String> why = Backends.cudaUnavailableReason();
    Assumptions.assumeTrue(why.isEmpty(), () -> "no GPU: " + why.orElse(""));
    GpuResults gpu = GpuSuite.run(Profile.SMOKE,
        new PrintStream(new ByteArrayOutputStream()));
    assertTrue(gpu.copyGBps() > 0, "copy ceiling " + gpu.copyGBps());
    assertTrue(gpu.readGBps() > 0, "read ceiling " + gpu.readGBps());
    assertTrue(gpu.tensorCoreTflops() > 0, "tensor-core ceiling " + gpu.tensorCoreTflops());
    List<CudaDecode.Row> rows = gpu.decode();
    assertTrue(rows.stream().anyMatch(r -> r.kind().equals("mla")), rows.toString());
    assertTrue(rows.stream().anyMatch(r -> r.kind().equals("mha")), rows.toString());
    // every quantized format, rope keys BF16 or quantized too, on a tensor-core instance
    // (mma.sync, or wgmma for DeepSeek's shape), none on the generic kernel
    for (String format : List.of("INT8 g64", "FP8 g64", "INT4 g64", "INT8 g64 rope INT8",
        "FP8 g64 rope FP8", "INT4 g64 rope INT4")) {
      String q = format.split(" ")[0].toLowerCase(java.util.Locale.ROOT)
          + (format.contains(" rope ") ? "_qrope" : "");
      List<CudaDecode.Row> of = rows.stream().filter(r -> r.kind().equals("mla")
          && r.cacheFormat().equals(format)).toList();
      assertFalse(of.isEmpty(), format + " rows: " + rows);
      // SmolLM's rope keys are 8 per kv head: the qrope8 instances
      of.forEach(r -> assertTrue(r.kernel().startsWith("mla4j_mla_mma_" + q + "_m")
          || (format.contains(" rope ") && r.kernel().startsWith("mla4j_mla_mma_" + q + "8_m"))
          || r.kernel().equals("mla4j_mla_wgmma_" + q + "_h64_l512_r64"), format + ": " + r));
    }
    // the MHA baseline in INT8/FP8/INT4 on the memory-bound decode kernel's quantized instances
    for (String format : List.of("INT8 g64", "FP8 g64", "INT4 g64")) {
      String q = format.split(" ")[0].toLowerCase(java.util.Locale.ROOT);
      List<CudaDecode.Row> of = rows.stream().filter(r -> r.kind().equals("mha")
          && r.cacheFormat().equals(format)).toList();
      assertFalse(of.isEmpty(), "MHA " + format + " rows: " + rows);
      of.forEach(r -> assertTrue(r.kernel().matches("mla4j_mha_decode_" + q + "(_w16)?_d.*"),
          "MHA " + format + ": " + r));
    }
    for (CudaDecode.Row r : rows) {
      assertNull(r.skipped(), r.toString());
      assertTrue(r.medianMicros() > 0 && Double.isFinite(r.gbps()), r.toString());
      // NVML ships with the driver: every timed row says how much of it ran power-capped
      assertTrue(r.powerCapped() != null && r.powerCapped() >= 0 && r.powerCapped() <= 1,
          r.toString());
    }
    String md = MarkdownReport.render(MarkdownReportTest.data(List.of(), gpu), Map.of());
    assertTrue(md.contains("MLA vs MHA on the GPU"), md);
    assertTrue(md.contains("## Quantized latent on the GPU"), md);
    List<String> row = MarkdownReportTest.row(md, "| SmolLM-1.7B d_kv 16 | 1 | 1K |");
    assertFalse(row.get(5).equals("-"), "speed-up of MLA over its baseline: " + row);
  }
}
