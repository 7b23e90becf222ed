package dev.mla4j.bench.report;

import dev.mla4j.api.MhaShape;
import dev.mla4j.bench.DecodePreset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The JMH trials of one report: ceilings first, then decode, prefill, RoPE and projections on
 * each backend asked for. The MHA baseline of the three d_kv presets of one model is the same
 * layer, so it runs once per model, context and backend.
 */
public final class SuitePlan {
  private SuitePlan() {}

  /**
   * @param backends JMH backends to measure: {@code scalar}, {@code simd}, {@code cuda} (for
   *     cuda only RoPE and projections: its decode is timed with CUDA events, not JMH)
   * @param threads worker threads of every backend (the machine's processors)
   */
  public static List<Trial> trials(Profile profile, List<String> backends, int threads) {
    List<Trial> out = new ArrayList<>();
    String t = Integer.toString(threads);
    if (backends.contains("simd") || backends.contains("scalar")) {
      String mib = Integer.toString(profile.ceilingArrayMiB());
      for (String m : List.of("read1T", "readAllT", "fma1T", "fmaAllT")) {
        out.add(new Trial("CeilingBenchmark", m, Map.of("arrayMiB", mib)));
      }
    }
    if (backends.contains("simd")) {
      decode(out, "simd", t, profile.simdPresets(), profile.cpuContexts());
      for (int n : profile.variantContexts()) {
        for (DecodePreset p : profile.variantPresets()) {
          out.add(new Trial("DecodeBenchmark", "mla", params("simd", t, "preset", p.name(),
              "context", Integer.toString(n))));
        }
      }
    }
    if (backends.contains("scalar")) {
      decode(out, "scalar", t, profile.scalarPresets(), profile.scalarContexts());
    }
    if (backends.contains("simd")) {
      for (int n : profile.prefillContexts()) {
        for (DecodePreset p : profile.prefillPresets()) {
          for (String m : List.of("mla", "mha")) {
            out.add(new Trial("PrefillBenchmark", m, params("simd", t, "preset", p.name(),
                "context", Integer.toString(n), "tokens", "64")));
          }
        }
      }
    }
    for (String b : backends) {
      kernels(out, b, t, profile != Profile.FULL, profile == Profile.SMOKE || b.equals("scalar"));
    }
    return out;
  }

  private static void decode(List<Trial> out, String backend, String threads,
      List<DecodePreset> presets, List<Integer> contexts) {
    for (int n : contexts) {
      Set<MhaShape> baselines = new HashSet<>();
      for (DecodePreset p : presets) {
        Map<String, String> params = params(backend, threads, "preset", p.name(), "context",
            Integer.toString(n));
        out.add(new Trial("DecodeBenchmark", "mla", params));
        if (baselines.add(p.mha())) {
          out.add(new Trial("DecodeBenchmark", "mha", params));
        }
      }
    }
  }

  /**
   * Partial RoPE and the projections. {@code noGemm}: no 64-token GEMM; {@code few}: only the
   * decode-sized RoPE and W_dkv GEMV.
   */
  private static void kernels(List<Trial> out, String backend, String threads, boolean noGemm,
      boolean few) {
    for (String tokens : few ? List.of("1") : List.of("1", "64")) {
      out.add(new Trial("RopeBenchmark", "rope", params(backend, threads, "tokens", tokens)));
    }
    List<String[]> linear = new ArrayList<>();
    linear.add(new String[] {"512x4096", "1"});
    if (!few) {
      linear.add(new String[] {"4096x4096", "1"});
    }
    if (!noGemm && !few) {
      linear.add(new String[] {"4096x4096", "64"});
    }
    for (String[] w : linear) {
      out.add(new Trial("ProjectionBenchmark", "linear",
          params(backend, threads, "weight", w[0], "tokens", w[1])));
    }
  }

  private static Map<String, String> params(String backend, String threads, String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("backend", backend);
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    m.put("threads", threads);
    return m;
  }
}
