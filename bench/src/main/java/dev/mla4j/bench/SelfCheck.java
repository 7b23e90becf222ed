package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.oracle.AttentionOracle;
import dev.mla4j.oracle.LinearOracle;
import dev.mla4j.oracle.RopeOracle;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.rope.PairLayout;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.rope.RopeFrequencies;
import dev.mla4j.testing.Caches;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.RopeCases;
import dev.mla4j.testing.RopeSets;
import dev.mla4j.testing.Seeds;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.util.function.Function;

/**
 * Runs every kernel once on the selected backend and on the scalar backend and compares both
 * with the double-precision oracle of the test suite, under the suite's tolerance rule
 * (error ≤ 2 × scalar error + floor). A user validating a new machine sees one line per kernel.
 */
final class SelfCheck {
  private final PrintStream out;
  private final Backend backend;
  private final Backend scalar;
  private final Arena arena = Arena.ofShared();
  private boolean allPassed = true;

  private SelfCheck(PrintStream out, Backend backend, Backend scalar) {
    this.out = out;
    this.backend = backend;
    this.scalar = scalar;
  }

  /** Prints the table; returns whether every kernel passed. */
  static boolean run(PrintStream out, Backend backend) {
    try (Backend scalar = Backends.scalar(backend.threads())) {
      SelfCheck check = new SelfCheck(out, backend, scalar);
      out.printf("Kernel self-check: %s vs the double-precision oracle (seed %d)%n",
          backend.name(), Seeds.BASE);
      out.printf("%-37s %11s %11s %11s  %s%n", "kernel", "error", "scalar", "bound", "");
      try (check.arena) {
        check.linear();
        check.rope();
        check.mla();
        check.mha();
      }
      return check.allPassed;
    }
  }

  private void report(String what, double[] ref, double floor, Function<Backend, float[]> op) {
    double scalarError = ErrorCheck.error(ref, op.apply(scalar));
    double error = ErrorCheck.error(ref, op.apply(backend));
    double bound = ErrorCheck.SCALAR_RATIO * scalarError + floor;
    boolean ok = error <= bound && scalarError <= floor;
    allPassed &= ok;
    out.printf("%-37s %11.3e %11.3e %11.3e  %s%n", what, error, scalarError, bound,
        ok ? "ok" : "FAIL");
  }

  private void linear() {
    Seeds.Case c = Seeds.forCase("selfcheck-linear");
    linearCase("linear GEMV  W_dkv [512][4096] BF16", c, 1, 4096, 512, DType.BF16);
    linearCase("linear GEMM  [16 tok] [1024][512] F16", c, 16, 512, 1024, DType.F16);
    Tensor x = Inputs.gaussian(arena, c, DType.F32, 32, 112, 1);
    Tensor w = Inputs.gaussian(arena, c, DType.BF16, 112, 512, 0.1);
    double[] xs = TensorReader.read(x);
    double[] ws = TensorReader.read(w);
    double[] ref = LinearOracle.linearTransposed(xs, ws, 32, 112, 512);
    double floor = ErrorCheck.conditioned(ErrorCheck.floor(DType.F32, 112), ref,
        LinearOracle.termNormTransposed(xs, ws, 32, 112, 512));
    report("absorb query W_ukᵀ q [112][512]", ref, floor, b -> {
      Tensor y = Tensor.allocate(arena, DType.F32, 32, 512);
      b.linearTransposed(x, w, y);
      return y.toFloatArray();
    });
  }

  private void linearCase(String what, Seeds.Case c, int tokens, int in, int outDim, DType dtype) {
    Tensor x = Inputs.gaussian(arena, c, DType.F32, tokens, in, 1);
    Tensor w = Inputs.gaussian(arena, c, dtype, outDim, in, 0.05);
    double[] xs = TensorReader.read(x);
    double[] ws = TensorReader.read(w);
    double[] ref = LinearOracle.linear(xs, ws, tokens, in, outDim);
    double floor = ErrorCheck.conditioned(ErrorCheck.floor(DType.F32, in), ref,
        LinearOracle.termNorm(xs, ws, tokens, in, outDim));
    report(what, ref, floor, b -> {
      Tensor y = Tensor.allocate(arena, DType.F32, tokens, outDim);
      b.linear(x, w, y);
      return y.toFloatArray();
    });
  }

  /** Partial RoPE, Llama-2-7B heads (d_h 128, r 8 of 64 pairs), llama3 scaling. */
  private void rope() {
    Seeds.Case c = Seeds.forCase("selfcheck-rope");
    int heads = 32;
    int r = 8;
    int tokens = 4;
    RopeCases scaling = RopeCases.LLAMA3;
    int[][][] kept = RopeSets.random(c, 1, heads, r, 64);
    PartialRope rope = new PartialRope(RopeFrequencies.of(128, 10000, scaling.scaling),
        PairLayout.HALF_SPLIT, kept);
    int[] positions = new int[tokens];
    for (int t = 0; t < tokens; t++) {
      positions[t] = c.nextInt(4096);
    }
    Tensor x = Inputs.gaussian(arena, c, DType.F32, tokens, heads * 2 * r, 1);
    double[] ref = TensorReader.read(x);
    double[] invFreq = scaling.oracleInvFreq(128, 10000);
    double maxAngle = 0;
    for (int t = 0; t < tokens; t++) {
      for (int h = 0; h < heads; h++) {
        RopeOracle.partial(ref, (t * heads + h) * 2 * r, kept[0][h], invFreq, positions[t],
            scaling.oracleAttentionFactor(), false);
      }
      maxAngle = Math.max(maxAngle, positions[t] * invFreq[0]);
    }
    report("partial RoPE 32 heads r=8 llama3", ref, ErrorCheck.ropeFloor(maxAngle), b -> {
      Tensor y = Tensor.allocate(arena, DType.F32, tokens, heads * 2 * r);
      for (int t = 0; t < tokens; t++) {
        for (int i = 0; i < y.cols(); i++) {
          y.set(t, i, x.get(t, i));
        }
      }
      b.rope(y, positions, rope, 0);
      return y.toFloatArray();
    });
  }

  private void mla() {
    mlaCase("MLA decode Llama-2-7B d_kv16 BF16", MlaShape.mha2mla(32, 32, 128, 8, 16), 300, 1);
    mlaCase("MLA prefill DeepSeek 16h 512+64", new MlaShape(16, 1, 64, 512, RopeKeyLayout.SHARED,
        (float) (1 / Math.sqrt(192))), 100, 8);
  }

  private void mlaCase(String what, MlaShape s, int context, int tokens) {
    Seeds.Case c = Seeds.forCase("selfcheck-" + what);
    int rows = tokens * s.heads();
    Tensor qRope = Inputs.gaussian(arena, c, DType.F32, rows, s.ropeDim(), 1);
    Tensor qLatent = Inputs.gaussian(arena, c, DType.F32, rows, s.latentDim(), 0.05);
    try (LatentCache cache = new LatentCache(s, 1, DType.BF16, context + tokens)) {
      Caches.fill(arena, c, cache, 0, context + tokens, 0);
      int first = context;
      double[] ref = AttentionOracle.mlaAbsorbed(TensorReader.read(qRope),
          TensorReader.read(qLatent), Caches.ropeKeys(cache, 0, context + tokens),
          Caches.latents(cache, 0, context + tokens), s.heads(), s.kvHeads(), s.ropeDim(),
          s.latentDim(), s.ropeKeys() == RopeKeyLayout.SHARED, first, s.softmaxScale());
      report(what, ref, ErrorCheck.floor(DType.F32, context + s.latentDim()), b -> {
        Tensor y = Tensor.allocate(arena, DType.F32, rows, s.latentDim());
        b.mlaAttention(s, qRope, qLatent, cache, 0, first, y);
        return y.toFloatArray();
      });
    }
  }

  private void mha() {
    mhaCase("MHA decode Llama-2-7B BF16", MhaShape.of(32, 32, 128), 300, 1);
    mhaCase("GQA prefill SmolLM-135M 9/3 BF16", MhaShape.of(9, 3, 64), 100, 8);
  }

  private void mhaCase(String what, MhaShape s, int context, int tokens) {
    Seeds.Case c = Seeds.forCase("selfcheck-" + what);
    int rows = tokens * s.heads();
    Tensor q = Inputs.gaussian(arena, c, DType.F32, rows, s.headDim(), 0.3);
    try (KvCache cache = new KvCache(s, 1, DType.BF16, context + tokens)) {
      Caches.fill(arena, c, cache, 0, context + tokens, 0);
      int first = context;
      double[] ref = AttentionOracle.mha(TensorReader.read(q),
          Caches.keys(cache, 0, context + tokens), Caches.values(cache, 0, context + tokens),
          s.heads(), s.kvHeads(), s.headDim(), first, s.softmaxScale());
      report(what, ref, ErrorCheck.floor(DType.F32, context + s.headDim()), b -> {
        Tensor y = Tensor.allocate(arena, DType.F32, rows, s.headDim());
        b.mhaAttention(s, q, cache, 0, first, y);
        return y.toFloatArray();
      });
    }
  }
}
