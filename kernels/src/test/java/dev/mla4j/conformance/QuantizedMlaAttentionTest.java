package dev.mla4j.conformance;

import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.tensor.DType;
import dev.mla4j.testing.BackendCases;
import dev.mla4j.testing.Seeds;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * MLA attention over int8/int4/fp8 latent caches on the CPU backends vs the oracle run on the
 * values the oracle's own decoder reads from the stored bytes (so the kernels' in-register
 * dequantization is checked exactly, under the usual tolerance rule): group sizes 32/64/128 and
 * ones that leave a short last group or are narrower than a vector, recent-token windows the
 * queried range crosses, quantized rope keys, decode and prefill, split-KV.
 */
@Tag("simd")
class QuantizedMlaAttentionTest {

  /**
   * The sweep's code formats, one pass each: fp8 after the int8/int4 pass, so that pass keeps
   * its cases.
   */
  static final Quantization[][] SWEEPS = {{Quantization.INT8, Quantization.INT4},
      {Quantization.FP8}};

  static Stream<Arguments> cases() {
    int[][] dims = {{16, 512}, {8, 96}, {8, 48}, {7, 33}, {0, 65}, {3, 130}, {16, 17}}; // d_r, L
    int[][] heads = {{4, 4}, {6, 6}, {3, 1}, {8, 2}};
    int[] groups = {32, 64, 128, 6, 16, 32, 40};
    int[] windows = {0, 0, 5, 70, 0, 130};
    List<Arguments> cases = new ArrayList<>();
    int k = 0;
    for (Quantization[] sweep : SWEEPS) {
      for (int[] d : dims) {
        for (Quantization q : sweep) {
          for (int v = 0; v < 2; v++) {
            int[] h = heads[k % heads.length];
            RopeKeyLayout layout = k % 5 == 4 ? RopeKeyLayout.SHARED : RopeKeyLayout.PER_KV_HEAD;
            MlaShape s = new MlaShape(h[0], h[1], d[0], d[1], layout,
                (float) (1 / Math.sqrt(2 * d[0] + 8)));
            CacheFormat f = new CacheFormat(DType.BF16, q, groups[k % groups.length],
                windows[k % windows.length], k % 3 == 1);
            cases.add(Arguments.of("sweep", s, f, Queries.cycled(k), 1 + k % 2,
                k % 4 == 0 ? 5 : 0));
            k++;
          }
        }
      }
    }
    // split-KV decode with the window boundary inside one split, and a long prefill
    MlaShape llama = MlaShape.mha2mla(32, 32, 128, 8, 16);
    cases.add(Arguments.of("splitKV", llama, CacheFormat.int4(64).withWindow(100),
        new Queries(1, 599), 2, 0));
    cases.add(Arguments.of("splitKV", llama, CacheFormat.int8(32), new Queries(1, 1023), 2, 3));
    cases.add(Arguments.of("prefill", MlaShape.mha2mla(6, 6, 64, 4, 8),
        CacheFormat.int4(32).withWindow(20).withQuantizedRopeKeys(), new Queries(40, 100), 2, 0));
    // fp8: a window with quantized rope keys (no sweep case has both), prefill and split-KV
    cases.add(Arguments.of("prefill", MlaShape.mha2mla(6, 6, 64, 4, 8),
        CacheFormat.fp8(32).withWindow(20).withQuantizedRopeKeys(), new Queries(40, 100), 2, 3));
    cases.add(Arguments.of("splitKV", llama, CacheFormat.fp8(64).withWindow(100)
        .withQuantizedRopeKeys(), new Queries(1, 599), 2, 0));
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} {1} {2} {3} threads={4} poisoned={5}")
  @MethodSource("cases")
  void matchesOracleOnDecodedCache(String label, MlaShape s, CacheFormat format, Queries q,
      int threads, int poisoned) {
    check(label, s, format, q, threads, poisoned, BackendCases.cpuNames());
  }

  /** One case on {@code backends}, against the oracle and the scalar reference. */
  static void check(String label, MlaShape s, CacheFormat format, Queries q, int threads,
      int poisoned, List<String> backends) {
    Seeds.Case c = Seeds.forCase("qmla " + label + " " + s + " " + format + " " + q + " " + threads);
    AttentionChecks.mla("quantized mla attention", c, s,
        capacity -> new LatentCache(s, 2, format, capacity), q, threads, poisoned, backends);
  }
}
