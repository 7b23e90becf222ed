package dev.mla4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class SuitePlanTest {
  private static long count(List<Trial> trials, String benchmark, String method, String backend) {
    return trials.stream().filter(t -> t.benchmark().equals(benchmark) && t.method().equals(method)
        && backend.equals(t.params().get("backend"))).count();
  }

  @Test
  void quickPlanRunsEveryPresetOnSimdAndOneCaseOnScalar() {
    List<Trial> trials = SuitePlan.trials(Profile.QUICK, List.of("scalar", "simd"), 2);
    // one preset per model (5) × 4 contexts, and the 8 other d_kv presets at 4K
    assertEquals(5 * 4 + 8, count(trials, "DecodeBenchmark", "mla", "simd"));
    // one MHA per model (5 models) and context: the d_kv presets share their baseline layer
    assertEquals(5 * 4, count(trials, "DecodeBenchmark", "mha", "simd"));
    assertEquals(1, count(trials, "DecodeBenchmark", "mla", "scalar"));
    assertEquals(1, count(trials, "DecodeBenchmark", "mha", "scalar"));
    Trial scalar = trials.stream().filter(t -> t.benchmark().equals("DecodeBenchmark")
        && t.params().get("backend").equals("scalar")).findFirst().orElseThrow();
    assertEquals("SMOLLM_135M_DKV16", scalar.params().get("preset"));
    assertEquals("1024", scalar.params().get("context"));
    assertEquals("CeilingBenchmark", trials.get(0).benchmark(), "ceilings are measured first");
    // every MLA preset's baseline is measured at its context, on its backend
    for (Trial mla : trials) {
      if (mla.benchmark().equals("DecodeBenchmark") && mla.method().equals("mla")) {
        var p = dev.mla4j.bench.DecodePreset.named(mla.params().get("preset"));
        assertTrue(trials.stream().anyMatch(h -> h.benchmark().equals("DecodeBenchmark")
            && h.method().equals("mha") && h.params().get("context").equals(mla.params().get("context"))
            && h.params().get("backend").equals(mla.params().get("backend"))
            && dev.mla4j.bench.DecodePreset.named(h.params().get("preset")).mha().equals(p.mha())),
            "no baseline for " + mla.describe());
      }
    }
    assertTrue(trials.stream().allMatch(t -> !t.params().containsKey("threads")
        || t.params().get("threads").equals("2")));
  }

  @Test
  void cudaGetsOnlyJmhKernelSuites() {
    List<Trial> trials = SuitePlan.trials(Profile.QUICK, List.of("cuda"), 16);
    assertTrue(trials.stream().allMatch(t -> t.benchmark().equals("RopeBenchmark")
        || t.benchmark().equals("ProjectionBenchmark")), trials.toString());
  }

  @Test
  void unknownProfileIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Profile.named("fast"));
    assertTrue(e.getMessage().contains("fast") && e.getMessage().contains("quick"));
    assertEquals(Profile.FULL, Profile.named("FULL"));
  }
}
