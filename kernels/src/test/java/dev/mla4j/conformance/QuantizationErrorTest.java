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
 * random data: the kernel's output on the int8/int4 cache against the oracle on the BF16 cache
 * holding the same inputs. See {@link #BOUND} for the bound.
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

  static Stream<Arguments> cases() {
    List<Arguments> cases = new ArrayList<>();
    MlaShape llama = MlaShape.mha2mla(32, 32, 128, 8, 16);
    MlaShape tiny = MlaShape.mha2mla(6, 6, 64, 4, 8);
    for (CacheFormat f : new CacheFormat[] {CacheFormat.int8(32), CacheFormat.int8(128),
        CacheFormat.int4(32), CacheFormat.int4(64), CacheFormat.int4(128),
        CacheFormat.int4(64).withQuantizedRopeKeys(), CacheFormat.int8(64).withQuantizedRopeKeys()}) {
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
    return Stream.of(CacheFormat.int8(64), CacheFormat.int4(32), CacheFormat.int4(128))
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

  private static void check(String backend, CacheFormat format, Seeds.Case c, double[] ref,
      float[] y) {
    double step = 1.0 / format.quantization().qmax();
    double e = ErrorCheck.error(ref, y);
    double cos = ErrorCheck.cosine(ref, y);
    assertTrue(e <= BOUND * step, backend + " " + format + ": error " + e + " above " + BOUND
        + " x step " + step + " " + c);
    assertTrue(1 - cos <= BOUND * step * step, backend + " " + format + ": cosine " + cos
        + " below 1 - " + BOUND + " x step² " + c);
  }
}
