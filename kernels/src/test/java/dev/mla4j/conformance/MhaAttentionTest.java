package dev.mla4j.conformance;

import dev.mla4j.api.MhaShape;
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

/** MHA/GQA attention, the baseline, of every backend vs the oracle. */
@Tag("simd")
class MhaAttentionTest {

  /** d_h around lane multiples, GQA groups, every cache dtype, decode and prefill placements. */
  static Stream<Arguments> sweep() {
    int[] headDims = {1, 3, 7, 15, 17, 31, 33, 63, 65, 127, 129};
    int[][] heads = {{1, 1}, {2, 1}, {4, 2}, {3, 3}};
    List<Arguments> cases = new ArrayList<>();
    int k = 0;
    for (int dh : headDims) {
      for (int p = 0; p < 3; p++) {
        int[] h = heads[k % heads.length];
        cases.add(Arguments.of("sweep", MhaShape.of(h[0], h[1], dh), DType.values()[k % 3],
            Queries.cycled(k), 1 + k % 2, k % 4 == 1 ? 3 : 0));
        k++;
      }
    }
    for (DType dtype : DType.values()) {
      cases.add(Arguments.of("splitKV", MhaShape.of(4, 2, 33), dtype, new Queries(1, 700), 2, 2));
    }
    return cases.stream();
  }

  /** SmolLM-135M (GQA 9/3/64) and Llama-2-7B (MHA 32/32/128) at short contexts. */
  static Stream<Arguments> paperShapes() {
    return Stream.of(
        Arguments.of("SmolLM-135M", MhaShape.of(9, 3, 64), DType.BF16, new Queries(1, 99), 2, 0),
        Arguments.of("SmolLM-135M", MhaShape.of(9, 3, 64), DType.F32, new Queries(6, 60), 1, 1),
        Arguments.of("SmolLM-135M", MhaShape.of(9, 3, 64), DType.F16, new Queries(1, 600), 2, 0),
        Arguments.of("Llama-2-7B", MhaShape.of(32, 32, 128), DType.BF16, new Queries(1, 69), 2, 0),
        Arguments.of("Llama-2-7B", MhaShape.of(32, 32, 128), DType.F16, new Queries(3, 62), 2, 2));
  }

  @ParameterizedTest(name = "{0} {1} {2} {3} threads={4} poisoned={5}")
  @MethodSource({"sweep", "paperShapes"})
  void matchesOracle(String label, MhaShape s, DType dtype, Queries q, int threads, int poisoned) {
    Seeds.Case c = Seeds.forCase("mha " + label + " " + s + " " + dtype + " " + q + " " + threads);
    AttentionChecks.mha("mha attention", c, s, capacity -> new KvCache(s, 2, dtype, capacity), q,
        threads, poisoned, BackendCases.names());
  }
}
