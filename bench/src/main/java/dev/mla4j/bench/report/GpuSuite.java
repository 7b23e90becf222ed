package dev.mla4j.bench.report;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.bench.CudaDecode;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.bench.CudaNaivePrefill;
import dev.mla4j.bench.DecodePreset;
import dev.mla4j.cuda.CudaContext;
import dev.mla4j.cuda.CudaStream;
import dev.mla4j.cuda.MlaNaivePrefill;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The report's GPU decode sweep: {@link CudaDecode} (device-resident cache, CUDA events) for
 * each preset, batch and context of the profile, MHA once per distinct baseline layer, MLA again
 * with an INT8, FP8 and INT4 latent, rope keys BF16 and then quantized like the latent
 * ({@link CudaDecode#QUANTIZED}), MHA again with its keys and values in those three formats
 * ({@link CudaDecode#QUANTIZED_LATENTS}) where its BF16 row ran, plus the copy and read bandwidth ceilings; prefill chunks of
 * MLA (absorbed, and in the naive form where an attention kernel instance fits) and MHA. Only
 * call where the cuda backend is available.
 */
public final class GpuSuite {
  /** Query tokens of the prefill rows: the CPU suite's chunk (PrefillBenchmark). */
  public static final int PREFILL_TOKENS = 64;

  private GpuSuite() {}

  public static GpuResults run(Profile profile, PrintStream console) {
    CudaContext ctx = CudaContext.get();
    List<CudaDecode.Row> rows = new ArrayList<>();
    try (CudaStream stream = ctx.newStream()) {
      double copy = CudaDecode.copyCeilingGBps(ctx, stream);
      double read = CudaDecode.readCeilingGBps(ctx, stream);
      double tc = CudaDecode.tensorCoreTflops(ctx, stream);
      console.printf("GPU %s: copy %.0f GB/s, read %.0f GB/s, BF16 tensor cores %.0f TFLOP/s%n",
          ctx.describe(), copy, read, tc);
      int total = cases(profile);
      int done = 0;
      long start = System.nanoTime();
      for (int batch : profile.gpuBatches()) {
        for (int n : profile.gpuContexts()) {
          Set<MhaShape> baselines = new HashSet<>();
          for (DecodePreset p : profile.gpuPresets()) {
            rows.add(step(ctx, stream, console, p, true, CudaDecode.PLAIN, batch, n, ++done, total,
                start));
            if (baselines.add(p.mha())) {
              CudaDecode.Row mha = step(ctx, stream, console, p, false, CudaDecode.PLAIN, batch, n,
                  ++done, total, start);
              rows.add(mha);
              // quantized MHA beside a BF16 row only: where BF16 is over the memory limit there
              // is nothing to compare with, and those caches take 20-25 s each to fill and time
              for (CacheFormat f : CudaDecode.QUANTIZED_LATENTS) {
                if (mha.skipped() == null) {
                  rows.add(step(ctx, stream, console, p, false, f, batch, n, ++done, total, start));
                } else {
                  done++;
                }
              }
            }
            for (CacheFormat f : CudaDecode.QUANTIZED) {
              rows.add(step(ctx, stream, console, p, true, f, batch, n, ++done, total, start));
            }
          }
        }
      }
      List<CudaDecode.Row> prefill = new ArrayList<>();
      for (DecodePreset p : profile.prefillPresets()) {
        for (int n : profile.gpuContexts()) {
          for (boolean mla : new boolean[] {true, false}) {
            CudaDecode.Row r = CudaDecode.measure(ctx, stream, p.name(), mla ? p.mla() : null,
                mla ? null : p.mha(), 1, PREFILL_TOKENS, n);
            console.printf("[gpu prefill] %s %s N=%d: %s%n", mla ? "MLA" : "MHA", p.label(), n,
                r.skipped() != null ? "skipped, " + r.skipped() : Md.micros(r.medianMicros()));
            prefill.add(r);
            if (mla) {
              CudaDecode.Row nv = CudaNaivePrefill.measure(ctx, stream, p.name(), p.mla(),
                  naiveDims(p), PREFILL_TOKENS, n);
              console.printf("[gpu prefill] MLA naive %s N=%d: %s%n", p.label(), n,
                  nv.skipped() != null ? "skipped, " + nv.skipped() : Md.micros(nv.medianMicros()));
              prefill.add(nv);
            }
          }
        }
      }
      return new GpuResults(ctx.describe(), copy, read, tc, rows, prefill);
    }
  }

  /**
   * The naive-form expansion of a preset: MHA2MLA's kv heads with d_h = the baseline's; for a
   * shared rope key (DeepSeek) every query head expanded, d_nope = d_v = the baseline's d_h.
   */
  private static MlaNaivePrefill.Dims naiveDims(DecodePreset p) {
    int dh = p.mha().headDim();
    return p.mla().ropeKeys() == RopeKeyLayout.PER_KV_HEAD
        ? MlaNaivePrefill.Dims.mha2mla(p.mla(), dh) : new MlaNaivePrefill.Dims(p.mla().heads(), dh, dh);
  }

  /** MLA of {@code p}, or its MHA baseline, with the cache (MHA: K and V) in {@code format}. */
  private static CudaDecode.Row step(CudaContext ctx, CudaStream stream, PrintStream console,
      DecodePreset p, boolean mla, CacheFormat format, int batch, int n, int k, int total,
      long start) {
    CudaDecode.Row r = CudaDecode.measure(ctx, stream, p.name(), mla ? p.mla() : null,
        mla ? null : p.mha(), format, batch, 1, n);
    console.printf("[gpu %d/%d] %s %s %s batch %d N=%d: %s   (elapsed %s)%n", k, total,
        mla ? "MLA" : "MHA", r.cacheFormat(), p.label(), batch, n,
        r.skipped() != null ? "skipped, " + r.skipped() : Md.micros(r.medianMicros()),
        SuiteRunner.clock(System.nanoTime() - start));
    return r;
  }

  private static int cases(Profile profile) {
    long baselines = profile.gpuPresets().stream().map(DecodePreset::mha).distinct().count();
    return (int) ((profile.gpuPresets().size() * (1 + CudaDecode.QUANTIZED.size())
        + baselines * (1 + CudaDecode.QUANTIZED_LATENTS.size()))
        * profile.gpuBatches().size() * profile.gpuContexts().size());
  }
}
