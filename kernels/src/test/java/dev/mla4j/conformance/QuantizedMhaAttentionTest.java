package dev.mla4j.conformance;

import dev.mla4j.api.MhaShape;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.KvCache;
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
 * The MHA/GQA baseline over int8/int4/fp8 K/V caches on the CPU backends vs the oracle on the
 * values its own decoder reads from the stored bytes (see {@link QuantizedMlaAttentionTest}).
 */
@Tag("simd")
class QuantizedMhaAttentionTest {

  static Stream<Arguments> cases() {
    int[] headDims = {128, 64, 33, 17, 7, 130};
    int[][] heads = {{4, 4}, {6, 2}, {3, 3}, {2, 1}};
    int[] groups = {32, 64, 128, 6, 16, 40};
    int[] windows = {0, 5, 0, 70};
    List<Arguments> cases = new ArrayList<>();
    int k = 0;
    for (CacheFormat.Quantization[] sweep : QuantizedMlaAttentionTest.SWEEPS) {
      for (int dh : headDims) {
        for (CacheFormat.Quantization q : sweep) {
          for (int v = 0; v < 2; v++) {
            int[] h = heads[k % heads.length];
            CacheFormat f = new CacheFormat(DType.BF16, q, groups[k % groups.length],
                windows[k % windows.length], false);
            cases.add(Arguments.of("sweep", MhaShape.of(h[0], h[1], dh), f, Queries.cycled(k),
                1 + k % 2, k % 4 == 1 ? 3 : 0));
            k++;
          }
        }
      }
    }
    // whole groups of 128: int8's loads of 4·LANES code bytes (SimdQuantMhaBlock's quad path) at
    // every vector width; int4 beside it
    cases.add(Arguments.of("quad", MhaShape.of(4, 2, 128), CacheFormat.int4(128),
        new Queries(3, 130), 1, 0));
    cases.add(Arguments.of("quad", MhaShape.of(6, 3, 256), CacheFormat.int8(128).withWindow(9),
        new Queries(2, 75), 2, 1));
    cases.add(Arguments.of("splitKV", MhaShape.of(32, 32, 128), CacheFormat.int4(64),
        new Queries(1, 700), 2, 0));
    cases.add(Arguments.of("splitKV", MhaShape.of(9, 3, 64), CacheFormat.int8(32).withWindow(128),
        new Queries(1, 600), 2, 2));
    cases.add(Arguments.of("splitKV", MhaShape.of(8, 2, 128), CacheFormat.fp8(64).withWindow(70),
        new Queries(1, 650), 2, 2));
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} {1} {2} {3} threads={4} poisoned={5}")
  @MethodSource("cases")
  void matchesOracleOnDecodedCache(String label, MhaShape s, CacheFormat format, Queries q,
      int threads, int poisoned) {
    check(label, s, format, q, threads, poisoned, BackendCases.cpuNames());
  }

  /** One case on {@code backends}, against the oracle and the scalar reference. */
  static void check(String label, MhaShape s, CacheFormat format, Queries q, int threads,
      int poisoned, List<String> backends) {
    Seeds.Case c = Seeds.forCase("qmha " + label + " " + s + " " + format + " " + q + " " + threads);
    AttentionChecks.mha("quantized mha attention", c, s,
        capacity -> new KvCache(s, 2, format, capacity), q, threads, poisoned, backends);
  }
}
