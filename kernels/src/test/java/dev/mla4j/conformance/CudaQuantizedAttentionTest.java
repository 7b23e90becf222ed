package dev.mla4j.conformance;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.tensor.DType;
import dev.mla4j.testing.BackendCases;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Quantized caches on the cuda backend (the generic kernel reading codes and scales; a window's
 * tokens through a second plan and a merge), under the usual tolerance rule against the oracle on
 * the stored codes: every case of {@link QuantizedMlaAttentionTest} and
 * {@link QuantizedMhaAttentionTest}, and a matrix of INT8/INT4/FP8 x group 32/64/128/48 (48
 * leaves a short last group of every segment below) x latent quantized / latent and rope keys
 * quantized / MHA K and V, with windows crossed by prefills, and every storage dtype of the
 * window and the plain parts. Skipped with the reason without a GPU.
 */
@Tag("gpu")
class CudaQuantizedAttentionTest {
  private static final List<String> CUDA = List.of("cuda");
  private static final Quantization[] QUANTIZATIONS = {Quantization.INT8, Quantization.INT4,
      Quantization.FP8};
  private static final int[] GROUPS = {32, 64, 128, 48};
  /** Decode at the end of a 200-token context, or a prefill of 24 tokens from position 180. */
  private static final Queries[] QUERIES = {new Queries(1, 199), new Queries(24, 180)};

  @BeforeAll
  static void needsGpu() {
    BackendCases.assumeCuda();
  }

  /**
   * Matrix format of quantization q (index qi) and group index i: groups 64 and 48 keep a window
   * of 20 tokens, dtypes cycle over BF16, F16, F32.
   */
  private static CacheFormat format(Quantization q, int qi, int i, boolean rope) {
    DType[] dtypes = {DType.BF16, DType.F16, DType.F32};
    return new CacheFormat(dtypes[(qi + i) % 3], q, GROUPS[i], i % 2 == 1 ? 20 : 0, rope);
  }

  static Stream<Arguments> mlaCases() {
    List<Arguments> cases = new ArrayList<>();
    // L 128 and 512, d_r 32 per kv head or 64 shared: 48 gives 2x48+32, 10x48+32, 32, 48+16
    MlaShape[] shapes = {MlaShape.mha2mla(8, 4, 64, 16, 32),
        new MlaShape(16, 1, 64, 512, RopeKeyLayout.SHARED, 0.04f)};
    for (int qi = 0; qi < QUANTIZATIONS.length; qi++) {
      for (int i = 0; i < GROUPS.length; i++) {
        for (int r = 0; r < 2; r++) {
          cases.add(Arguments.of("matrix", shapes[(i + r) % 2],
              format(QUANTIZATIONS[qi], qi, i, r == 1), QUERIES[(i / 2 + r + qi) % 2], 1,
              (qi + i + r) % 3 == 0 ? 3 : 0));
        }
      }
    }
    return Stream.concat(QuantizedMlaAttentionTest.cases(), cases.stream());
  }

  @ParameterizedTest(name = "{0} {1} {2} {3} poisoned={5}")
  @MethodSource("mlaCases")
  void mlaMatchesOracle(String label, MlaShape s, CacheFormat format, Queries q, int threads,
      int poisoned) {
    QuantizedMlaAttentionTest.check(label, s, format, q, threads, poisoned, CUDA);
  }

  static Stream<Arguments> mhaCases() {
    List<Arguments> cases = new ArrayList<>();
    for (int qi = 0; qi < QUANTIZATIONS.length; qi++) {
      for (int i = 0; i < GROUPS.length; i++) {
        // d_h 128 in groups of 48: 2x48+32; GQA 8 heads over 2 kv heads
        cases.add(Arguments.of("matrix", MhaShape.of(8, 2, 128),
            format(QUANTIZATIONS[qi], qi, i, false), QUERIES[(i / 2 + qi) % 2], 1,
            (qi + i) % 3 == 0 ? 3 : 0));
      }
    }
    return Stream.concat(QuantizedMhaAttentionTest.cases(), cases.stream());
  }

  @ParameterizedTest(name = "{0} {1} {2} {3} poisoned={5}")
  @MethodSource("mhaCases")
  void mhaMatchesOracle(String label, MhaShape s, CacheFormat format, Queries q, int threads,
      int poisoned) {
    QuantizedMhaAttentionTest.check(label, s, format, q, threads, poisoned, CUDA);
  }
}
