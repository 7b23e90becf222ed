package dev.mla4j.bench.report;

import dev.mla4j.bench.DecodePreset;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * How much the report measures. {@code quick} is sized to finish within 10 minutes on a 2-core
 * machine: short JMH iterations, one preset per model (d_kv 16) at four contexts on SIMD, the
 * other d_kv presets at 4K, the scalar backend only at the smallest preset and context (it is
 * 10-50x slower). {@code full} is for careful
 * runs: longer iterations, contexts 1K..32K. {@code smoke} checks the pipeline in seconds (tests,
 * a new machine); its numbers are not meant to be read.
 *
 * @param warmupIterations JMH warm-up iterations per trial
 * @param warmupMillis length of one warm-up iteration
 * @param iterations JMH measurement iterations per trial (the report shows their median)
 * @param iterationMillis length of one measurement iteration
 * @param simdPresets presets whose MLA and MHA decode run on the SIMD backend
 * @param cpuContexts their decode contexts on the CPU backends
 * @param variantPresets more presets whose MLA decode runs on SIMD at {@code variantContexts}
 *     (a subset of {@code cpuContexts}, so their MHA baseline is measured there)
 * @param scalarPresets presets run on the scalar backend (at {@code scalarContexts})
 * @param prefillContexts contexts of the prefill-chunk benchmark (SIMD, d_kv 16 presets)
 * @param gpuContexts decode contexts on the GPU
 * @param gpuBatches decode batches on the GPU
 * @param ceilingArrayMiB size of the read-bandwidth probe's array
 */
public record Profile(String name, int warmupIterations, int warmupMillis, int iterations,
    int iterationMillis, List<DecodePreset> simdPresets, List<Integer> cpuContexts,
    List<DecodePreset> variantPresets, List<Integer> variantContexts,
    List<DecodePreset> scalarPresets, List<Integer> scalarContexts,
    List<DecodePreset> prefillPresets, List<Integer> prefillContexts,
    List<DecodePreset> gpuPresets, List<Integer> gpuContexts, List<Integer> gpuBatches,
    int ceilingArrayMiB) {

  /** The paper's four models at d_kv 16 and DeepSeek-V2-Lite: one of each model. */
  static final List<DecodePreset> ONE_PER_MODEL = List.of(DecodePreset.SMOLLM_135M_DKV16,
      DecodePreset.SMOLLM_360M_DKV16, DecodePreset.SMOLLM_1_7B_DKV16,
      DecodePreset.LLAMA2_7B_DKV16, DecodePreset.DEEPSEEK_V2_LITE);

  /**
   * The GPU's presets: one per model and DeepSeek-V2, whose 128 heads (L 512, shared rope key of
   * 64) run the wgmma kernel on an sm_90 device (too slow a row for the CPU profiles).
   */
  static final List<DecodePreset> GPU_ONE_PER_MODEL = Stream.concat(
      ONE_PER_MODEL.stream(), Stream.of(DecodePreset.DEEPSEEK_V2)).toList();

  /** Every MHA2MLA preset at the paper's d_kv values, and DeepSeek-V2-Lite. */
  static final List<DecodePreset> PAPER = Arrays.stream(DecodePreset.values())
      .filter(p -> p != DecodePreset.DEEPSEEK_V2).toList();

  private static final int K = 1024;

  // 3 x 1 s of warm-up: a fresh fork runs the Vector API kernels interpreted or in C1 (every
  // vector op boxed, 10-100x slower) until C2 has compiled them, which at long contexts takes
  // more than a second of calls; 300 ms warm-up left some rows 100x slow.
  public static final Profile QUICK = new Profile("quick", 3, 1000, 3, 500, ONE_PER_MODEL,
      List.of(K, 4 * K, 16 * K, 32 * K),
      PAPER.stream().filter(p -> !ONE_PER_MODEL.contains(p)).toList(), List.of(4 * K),
      List.of(DecodePreset.SMOLLM_135M_DKV16), List.of(K),
      List.of(DecodePreset.SMOLLM_135M_DKV16, DecodePreset.LLAMA2_7B_DKV16), List.of(4 * K),
      GPU_ONE_PER_MODEL,
      List.of(K, 4 * K, 32 * K, 128 * K), List.of(1, 64), 256);

  public static final Profile FULL = new Profile("full", 3, 1000, 5, 1000, PAPER,
      List.of(K, 2 * K, 4 * K, 8 * K, 16 * K, 32 * K), List.of(), List.of(),
      List.of(DecodePreset.SMOLLM_135M_DKV16, DecodePreset.SMOLLM_360M_DKV16), List.of(K, 4 * K),
      ONE_PER_MODEL, List.of(K, 4 * K, 16 * K), List.of(DecodePreset.values()),
      List.of(K, 2 * K, 4 * K, 8 * K, 16 * K, 32 * K, 64 * K, 128 * K), List.of(1, 64, 128), 512);

  public static final Profile SMOKE = new Profile("smoke", 1, 100, 1, 100,
      List.of(DecodePreset.SMOLLM_135M_DKV16), List.of(K), List.of(), List.of(), List.of(),
      List.of(), List.of(), List.of(), List.of(DecodePreset.SMOLLM_1_7B_DKV16), List.of(K), List.of(1), 64);

  /** {@code quick}, {@code full} or {@code smoke}, any case; else an exception naming them. */
  public static Profile named(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "quick" -> QUICK;
      case "full" -> FULL;
      case "smoke" -> SMOKE;
      default -> throw new IllegalArgumentException(
          "unknown profile " + name + " (use quick, full or smoke)");
    };
  }
}
