package dev.mla4j.conformance;

import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
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

/** Absorbed MLA attention (spec 4.3) of every backend vs the oracle. */
@Tag("simd")
class MlaAttentionTest {

  static MlaShape shape(int heads, int kvHeads, int ropeDim, int latentDim, RopeKeyLayout layout,
      double scale) {
    return new MlaShape(heads, kvHeads, ropeDim, latentDim, layout, (float) scale);
  }

  /** d_r and L around lane multiples, GQA groups, both rope-key layouts, every cache dtype. */
  static Stream<Arguments> sweep() {
    int[][] dims = {{1, 1}, {3, 7}, {7, 3}, {15, 17}, {17, 15}, {31, 33}, {33, 31}, {63, 65},
        {65, 63}, {8, 127}, {16, 129}, {0, 17}}; // {d_r, L}
    int[][] heads = {{1, 1}, {2, 1}, {4, 2}, {3, 3}};
    DType[] dtypes = DType.values();
    List<Arguments> cases = new ArrayList<>();
    int k = 0;
    for (int[] d : dims) {
      for (int p = 0; p < 3; p++) {
        int[] h = heads[k % heads.length];
        RopeKeyLayout layout = RopeKeyLayout.values()[k % 2];
        MlaShape s = shape(h[0], h[1], d[0], d[1], layout, 1 / Math.sqrt(2 * d[0] + 8));
        cases.add(Arguments.of("sweep", s, dtypes[k % 3], Queries.cycled(k), 1 + k % 2,
            k % 4 == 0 ? 5 : 0));
        k++;
      }
    }
    // split-KV decode: with 2 threads a context of >= 512 tokens is split and merged
    for (DType dtype : dtypes) {
      cases.add(Arguments.of("splitKV", shape(2, 1, 7, 33, RopeKeyLayout.PER_KV_HEAD, 0.2), dtype,
          new Queries(1, 599), 2, 3));
      cases.add(Arguments.of("splitKV", shape(4, 4, 16, 65, RopeKeyLayout.SHARED, 0.15), dtype,
          new Queries(1, 1023), 2, 0));
    }
    return cases.stream();
  }

  /** The paper's shapes at short contexts: SmolLM-135M, Llama-2-7B, DeepSeek-V2-Lite. */
  static Stream<Arguments> paperShapes() {
    List<Arguments> cases = new ArrayList<>();
    int k = 0;
    for (int dKv : new int[] {8, 16, 32}) {
      MlaShape s = MlaShape.mha2mla(9, 3, 64, 4, dKv);
      cases.add(Arguments.of("SmolLM-135M d_kv " + dKv, s, DType.values()[k++ % 3],
          new Queries(1, 99), 2, 0));
      cases.add(Arguments.of("SmolLM-135M d_kv " + dKv, s, DType.BF16, new Queries(4, 60), 1, 2));
    }
    for (int dKv : new int[] {16, 32, 64}) {
      MlaShape s = MlaShape.mha2mla(32, 32, 128, 8, dKv);
      cases.add(Arguments.of("Llama-2-7B d_kv " + dKv, s, DType.values()[k++ % 3],
          new Queries(1, 69), 2, 0));
    }
    cases.add(Arguments.of("Llama-2-7B d_kv 16", MlaShape.mha2mla(32, 32, 128, 8, 16), DType.BF16,
        new Queries(2, 63), 2, 1));
    MlaShape ds = shape(16, 1, 64, 512, RopeKeyLayout.SHARED, 1 / Math.sqrt(192));
    cases.add(Arguments.of("DeepSeek-V2-Lite", ds, DType.BF16, new Queries(1, 129), 1, 0));
    cases.add(Arguments.of("DeepSeek-V2-Lite", ds, DType.F32, new Queries(1, 599), 2, 0));
    cases.add(Arguments.of("DeepSeek-V2-Lite", ds, DType.F16, new Queries(3, 62), 2, 4));
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} {1} {2} {3} threads={4} poisoned={5}")
  @MethodSource({"sweep", "paperShapes"})
  void matchesOracle(String label, MlaShape s, DType dtype, Queries q, int threads, int poisoned) {
    Seeds.Case c = Seeds.forCase("mla " + label + " " + s + " " + dtype + " " + q + " " + threads);
    AttentionChecks.mla("mla attention", c, s, capacity -> new LatentCache(s, 2, dtype, capacity),
        q, threads, poisoned, BackendCases.names());
  }
}
