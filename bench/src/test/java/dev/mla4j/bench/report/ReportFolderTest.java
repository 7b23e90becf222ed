package dev.mla4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.bench.CudaDecode;
import dev.mla4j.bench.JmhResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportFolderTest {
  @TempDir
  Path dir;

  @Test
  void refusesAnExistingReportWithoutForce() throws Exception {
    Path out = dir.resolve("r");
    Files.createDirectories(out);
    Files.writeString(out.resolve("report.md"), "old");
    Files.writeString(out.resolve("notes.txt"), "mine");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ReportFolder.create(out, false));
    assertTrue(e.getMessage().contains(out.toString()) && e.getMessage().contains("--force"),
        e.getMessage());
    assertEquals("old", Files.readString(out.resolve("report.md")));
    ReportFolder.create(out, true);
    assertFalse(Files.exists(out.resolve("report.md")), "--force removes the old report");
    assertEquals("mine", Files.readString(out.resolve("notes.txt")), "and nothing else");
  }

  /** The default run on a clone that holds a published report writes beside it, touching nothing. */
  @Test
  void defaultFolderMovesBesideAReportAlreadyThere() throws Exception {
    Path base = dir.resolve("machine-quick");
    assertEquals(base, ReportFolder.freshDefault(base, "20261124-0612"), "free: used as is");
    Files.createDirectories(base);
    assertEquals(base, ReportFolder.freshDefault(base, "20261124-0612"), "empty: used as is");
    Files.writeString(base.resolve("report.md"), "published");
    Path dated = ReportFolder.freshDefault(base, "20261124-0612");
    assertEquals(dir.resolve("machine-quick-20261124-0612"), dated);
    ReportFolder.create(dated, false);
    Files.writeString(dated.resolve("report.md"), "first run");
    assertEquals(dir.resolve("machine-quick-20261124-0612-2"),
        ReportFolder.freshDefault(base, "20261124-0612"), "same minute: numbered");
    assertEquals("published", Files.readString(base.resolve("report.md")));
    assertThrows(IllegalArgumentException.class, () -> ReportFolder.checkWritable(base, false));
  }

  @Test
  void refusesAFileAsFolderAndAFolderWithoutResults() throws Exception {
    Path file = Files.writeString(dir.resolve("f"), "x");
    assertThrows(IllegalArgumentException.class, () -> ReportFolder.create(file, true));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ReportFolder.existing(dir));
    assertTrue(e.getMessage().contains(ReportFolder.DATA_JSON), e.getMessage());
  }

  @Test
  void savedDataReadsBackForRerendering() throws Exception {
    ReportFolder folder = ReportFolder.create(dir.resolve("r"), false);
    List<JmhResult> jmh = MarkdownReportTest.synthetic(dir);
    Files.copy(dir.resolve("jmh.json"), folder.file(ReportFolder.JMH_JSON));
    GpuResults gpu = new GpuResults("GPU", 3000, 3300, 600, List.of(new CudaDecode.Row("mla",
        "LLAMA2_7B_DKV16", 64, 131072, 0, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN,
        Double.NaN, "", "too big"), new CudaDecode.Row("mla", "LLAMA2_7B_DKV16", 64, 32768, 2,
        0, 1500, 1490, 1600, 2900, 95, "mma", null, "BF16", 0.25)), List.of(new CudaDecode.Row("mla", "LLAMA2_7B_DKV16", 1,
        4096, 16, 0, 80, 79, 81, 100, 40, "mma", null)));
    ReportData data = MarkdownReportTest.data(jmh, gpu);
    folder.save(data);
    ReportData back = ReportFolder.existing(folder.dir()).load();
    assertEquals(data.environment(), back.environment());
    assertEquals("too big", back.gpu().decode().get(0).skipped());
    assertTrue(Double.isNaN(back.gpu().decode().get(0).medianMicros()));
    assertEquals(jmh, back.jmh());
    assertEquals(3300, back.gpu().readGBps());
    assertNull(back.gpu().decode().get(0).powerCapped());
    assertEquals(0.25, back.gpu().decode().get(1).powerCapped());
    Path md = folder.render(back);
    assertTrue(Files.readString(md).contains("| SmolLM-135M d_kv 16 | 1K |"));
  }

  /** A folder saved before the read probe existed still renders, its ceiling the copy's. */
  @Test
  void gpuResultsWithoutTheReadCeilingStillLoad() throws Exception {
    ReportFolder folder = ReportFolder.create(dir.resolve("old"), false);
    List<JmhResult> jmh = MarkdownReportTest.synthetic(dir);
    Files.copy(dir.resolve("jmh.json"), folder.file(ReportFolder.JMH_JSON));
    folder.save(MarkdownReportTest.data(jmh, null));
    Files.writeString(folder.file(ReportFolder.GPU_JSON), """
        {"device": "old GPU", "copyGBps": 2900.0, "tensorCoreTflops": 600.0,
         "decode": [{"kind": "mla", "shape": "LLAMA2_7B_DKV16", "batch": 1, "context": 4096,
           "splits": 8, "sharedBytes": 0, "medianMicros": 50.0, "p10Micros": 49.0,
           "p90Micros": 51.0, "gbps": 167.8, "tflops": 30.0, "kernel": "mma"}],
         "prefill": []}""");
    GpuResults gpu = ReportFolder.existing(folder.dir()).load().gpu();
    assertEquals(0, gpu.readGBps());
    assertNull(gpu.decode().get(0).powerCapped());  // saved before the power-cap clock
    assertEquals(2900, gpu.readCeilingGBps());
  }
}
