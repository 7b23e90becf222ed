package dev.mla4j.conformance;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.BackendCases;
import dev.mla4j.testing.Caches;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * How far decode over a quantized cache lands from decode over the unquantized (BF16) cache, on
 * random data: the kernel's output on the int8/int4/fp8 cache against the oracle on the BF16
 * cache holding the same inputs. See {@link #BOUND} and {@link #FP8_BOUND} for the bounds.
 */
class QuantizationErrorTest {
  /**
   * Allowed {@code max|y - ref| / max|ref|} in units of the relative quantization step
   * {@code 1/qmax} (1/127 for int8, 1/7 for int4). Every element moves by at most half a step of
   * its group's max|x|, so the values' share of the output error is below {@code 0.5/qmax}
   * relative to the data; the scores move by {@code scale·q·δc}, which with the test's scores of
   * standard deviation 2 is about {@code 2/(qmax·sqrt(12))} and moves the softmax weights by as
   * much; both are first order in the step, so the bound is a multiple of it. Measured worst
   * over 20 seeds of every case below (400 draws, simd backend): 2.80 (int8), 3.92 (int4, the
   * 6-head L 48 shape, where few tokens carry the softmax). The bound leaves 1.5x on that.
   * Cosine: {@code 1 - cos <= BOUND · step²} (measured worst 1.9 and 2.8 step²).
   */
  static final double BOUND = 6;

  /**
   * The fp8 bounds, in units of its {@link #step}: {@code max|y - ref| / max|ref| <= 1.5 step},
   * {@code 1 - cos <= 0.4 step²}. An E4M3 code is within half a step of its binade of
   * {@code x / scale}, so an element moves by at most {@code 2^-4·|x|} (normal codes) plus
   * {@code 2^-9·scale} (the subnormal step, {@code scale = max|x| / 448}): at most half of
   * {@code step = 2^-3 + 2^-9·2/448} of its group's max|x|, as for the integer codes. But the
   * error is relative to each element, not to the group's largest, so most elements move far
   * less than that and the integer codes' multiple would leave fp8 almost unchecked. Measured
   * worst over 1,200 draws (60 seeds of every fp8 case, both CPU backends): 0.90 step and
   * 0.19 step² (mean error 0.40 step); the bounds leave 1.7x and 2.1x on that.
   */
  static final double[] FP8_BOUND = {1.5, 0.4};

  /** Tokens in every case's cache; the one query decodes at the last of them. */
  private static final int CTX = 300;

  static Stream<Arguments> cases() {
    List<Arguments> cases = new ArrayList<>();
    MlaShape llama = MlaShape.mha2mla(32, 32, 128, 8, 16);
    MlaShape tiny = MlaShape.mha2mla(6, 6, 64, 4, 8);
    for (CacheFormat f : new CacheFormat[] {CacheFormat.int8(32), CacheFormat.int8(128),
        CacheFormat.int4(32), CacheFormat.int4(64), CacheFormat.int4(128),
        CacheFormat.int4(64).withQuantizedRopeKeys(), CacheFormat.int8(64).withQuantizedRopeKeys(),
        CacheFormat.fp8(32), CacheFormat.fp8(128), CacheFormat.fp8(64).withQuantizedRopeKeys()}) {
      cases.add(Arguments.of(llama, f));
      cases.add(Arguments.of(tiny, f));
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void mlaDecodeErrorIsBoundedByTheStep(MlaShape s, CacheFormat format) {
    repeated("qerr mla " + s + " " + format, c -> {
      int rows = s.heads();
      try (Arena arena = Arena.ofShared();
          LatentCache quantized = new LatentCache(s, 1, format, CTX);
          LatentCache plain = new LatentCache(s, 1, DType.BF16, CTX)) {
        appendSameTokens(arena, c, s.latentDim(), s.ropeKeyWidth(), quantized::append,
            plain::append);
        int scoreTerms = s.ropeDim() + s.latentDim();
        Tensor qRope = AttentionChecks.queries(arena, c, rows, s.ropeDim(), s.softmaxScale(),
            scoreTerms);
        Tensor qLatent = AttentionChecks.queries(arena, c, rows, s.latentDim(), s.softmaxScale(),
            scoreTerms);
        double[] ref = AttentionChecks.mlaOracle(s, qRope, qLatent, Caches.ropeKeys(plain, 0, CTX),
            Caches.latents(plain, 0, CTX), CTX - 1);
        checkOnCpuBackends(format, c, ref, b -> Inputs.written(arena, rows, s.latentDim(),
            out -> b.mlaAttention(s, qRope, qLatent, quantized, 0, CTX - 1, out)));
      }
    });
  }

  static Stream<Arguments> mhaCases() {
    return Stream.of(CacheFormat.int8(64), CacheFormat.int4(32), CacheFormat.int4(128),
            CacheFormat.fp8(64), CacheFormat.fp8(32))
        .flatMap(f -> Stream.of(Arguments.of(MhaShape.of(32, 32, 128), f),
            Arguments.of(MhaShape.of(6, 6, 64), f)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("mhaCases")
  void mhaDecodeErrorIsBoundedByTheStep(MhaShape s, CacheFormat format) {
    repeated("qerr mha " + s + " " + format, c -> {
      try (Arena arena = Arena.ofShared();
          KvCache quantized = new KvCache(s, 1, format, CTX);
          KvCache plain = new KvCache(s, 1, DType.BF16, CTX)) {
        appendSameTokens(arena, c, s.kvWidth(), s.kvWidth(), quantized::append, plain::append);
        Tensor q = AttentionChecks.queries(arena, c, s.heads(), s.headDim(), s.softmaxScale(),
            s.headDim());
        double[] ref = AttentionChecks.mhaOracle(s, q, Caches.keys(plain, 0, CTX),
            Caches.values(plain, 0, CTX), CTX - 1);
        checkOnCpuBackends(format, c, ref, b -> Inputs.written(arena, s.heads(), s.headDim(),
            out -> b.mhaAttention(s, q, quantized, 0, CTX - 1, out)));
      }
    });
  }

  /**
   * Runs {@code body} once per repetition ({@code -Dqerr.reps}, default 1; more for measuring the
   * worst errors quoted above), each on the seed of {@code name} and the repetition number.
   */
  private static void repeated(String name, Consumer<Seeds.Case> body) {
    for (int rep = 0; rep < Integer.getInteger("qerr.reps", 1); rep++) {
      body.accept(Seeds.forCase(name + rep));
    }
  }

  /** {@link LatentCache#append} or {@link KvCache#append}: a token's two parts, in order. */
  private interface TokenSink {
    void append(int layer, Tensor first, Tensor second);
  }

  /**
   * Appends the same {@link #CTX} random BF16 tokens, parts of widths {@code firstWidth} and
   * {@code secondWidth}, to layer 0 of every cache (the quantized one and its BF16 reference).
   */
  private static void appendSameTokens(Arena arena, Seeds.Case c, int firstWidth,
      int secondWidth, TokenSink... caches) {
    Tensor first = Inputs.gaussian(arena, c, DType.BF16, CTX, firstWidth, 1);
    Tensor second = Inputs.gaussian(arena, c, DType.BF16, CTX, secondWidth, 1);
    for (TokenSink cache : caches) {
      cache.append(0, first, second);
    }
  }

  /** The decode's output on every CPU backend (2 threads), each checked against the bounds. */
  private static void checkOnCpuBackends(CacheFormat format, Seeds.Case c, double[] ref,
      Function<Backend, float[]> decode) {
    for (String name : BackendCases.cpuNames()) {
      try (Backend b = BackendCases.open(name, 2)) {
        check(name, format, c, ref, decode.apply(b));
      }
    }
  }

  /**
   * Twice the worst move of one element relative to its group's max|x|: {@code 1/qmax} for the
   * integer codes, {@code 2^-3 + 2^-9·2/448} for fp8 (see {@link #FP8_BOUND}).
   */
  static double step(CacheFormat.Quantization q) {
    return q == CacheFormat.Quantization.FP8 ? 0x1p-3 + 0x1p-8 / q.qmax() : 1.0 / q.qmax();
  }

  private static void check(String backend, CacheFormat format, Seeds.Case c, double[] ref,
      float[] y) {
    double step = step(format.quantization());
    boolean fp8 = format.quantization() == CacheFormat.Quantization.FP8;
    double bound = fp8 ? FP8_BOUND[0] : BOUND;
    double cosBound = fp8 ? FP8_BOUND[1] : BOUND;
    double e = ErrorCheck.error(ref, y);
    double cos = ErrorCheck.cosine(ref, y);
    assertTrue(e <= bound * step, backend + " " + format + ": error " + e + " above " + bound
        + " x step " + step + " " + c);
    assertTrue(1 - cos <= cosBound * step * step, backend + " " + format + ": cosine " + cos
        + " below 1 - " + cosBound + " x step² " + c);
  }
}
