package dev.mla4j.conformance;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.oracle.AttentionOracle;
import dev.mla4j.oracle.TensorReader;
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
    for (int rep = 0; rep < Integer.getInteger("qerr.reps", 1); rep++) {
      Seeds.Case c = Seeds.forCase("qerr mla " + s + " " + format + rep);
      int ctx = 300;
      int rows = s.heads();
      try (Arena arena = Arena.ofShared();
          LatentCache quantized = new LatentCache(s, 1, format, ctx);
          LatentCache plain = new LatentCache(s, 1, DType.BF16, ctx)) {
        Tensor latent = Inputs.gaussian(arena, c, DType.BF16, ctx, s.latentDim(), 1);
        Tensor rope = Inputs.gaussian(arena, c, DType.BF16, ctx, s.ropeKeyWidth(), 1);
        quantized.append(0, latent, rope);
        plain.append(0, latent, rope);
        double qStd = 2 / (s.softmaxScale() * Math.sqrt(s.ropeDim() + s.latentDim()));
        Tensor qRope = Inputs.gaussian(arena, c, DType.F32, rows, s.ropeDim(), qStd);
        Tensor qLatent = Inputs.gaussian(arena, c, DType.F32, rows, s.latentDim(), qStd);
        double[] ref = AttentionOracle.mlaAbsorbed(TensorReader.read(qRope),
            TensorReader.read(qLatent), Caches.ropeKeys(plain, 0, ctx),
            Caches.latents(plain, 0, ctx), s.heads(), s.kvHeads(), s.ropeDim(), s.latentDim(),
            s.ropeKeys() == RopeKeyLayout.SHARED, ctx - 1, s.softmaxScale());
        for (String name : BackendCases.cpuNames()) {
          try (Backend b = BackendCases.open(name, 2)) {
            Tensor out = Inputs.nanFilled(arena, DType.F32, rows, s.latentDim());
            b.mlaAttention(s, qRope, qLatent, quantized, 0, ctx - 1, out);
            check(name, format, c, ref, Inputs.floats(out));
          }
        }
      }
    }
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
    for (int rep = 0; rep < Integer.getInteger("qerr.reps", 1); rep++) {
      Seeds.Case c = Seeds.forCase("qerr mha " + s + " " + format + rep);
      int ctx = 300;
      try (Arena arena = Arena.ofShared();
          KvCache quantized = new KvCache(s, 1, format, ctx);
          KvCache plain = new KvCache(s, 1, DType.BF16, ctx)) {
        Tensor k = Inputs.gaussian(arena, c, DType.BF16, ctx, s.kvWidth(), 1);
        Tensor v = Inputs.gaussian(arena, c, DType.BF16, ctx, s.kvWidth(), 1);
        quantized.append(0, k, v);
        plain.append(0, k, v);
        double qStd = 2 / (s.softmaxScale() * Math.sqrt(s.headDim()));
        Tensor q = Inputs.gaussian(arena, c, DType.F32, s.heads(), s.headDim(), qStd);
        double[] ref = AttentionOracle.mha(TensorReader.read(q), Caches.keys(plain, 0, ctx),
            Caches.values(plain, 0, ctx), s.heads(), s.kvHeads(), s.headDim(), ctx - 1,
            s.softmaxScale());
        for (String name : BackendCases.cpuNames()) {
          try (Backend b = BackendCases.open(name, 2)) {
            Tensor out = Inputs.nanFilled(arena, DType.F32, s.heads(), s.headDim());
            b.mhaAttention(s, q, quantized, 0, ctx - 1, out);
            check(name, format, c, ref, Inputs.floats(out));
          }
        }
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
