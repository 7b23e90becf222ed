package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.DType;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The report's quick MLA-vs-MHA comparison for one layer of Llama-2-7B (d_kv 16) at 4K context
 * with a BF16 cache: cache bytes per token and the median time of one decode step. Timed with
 * {@link System#nanoTime} after a warm-up, so it is an indicator; {@link DecodeBenchmark} gives
 * the real numbers.
 */
final class MlaVsMhaTable {
  static final DecodePreset PRESET = DecodePreset.LLAMA2_7B_DKV16;
  static final int CONTEXT = 4096;
  static final DType CACHE = DType.BF16;
  static final int THREADS = 2;
  /** Most timed runs; fewer when a run is slow, so the scalar backend stays within seconds. */
  private static final int RUNS = 50;
  private static final long WARMUP_NANOS = 1_000_000_000L;
  private static final long TIMING_BUDGET_NANOS = 5_000_000_000L;

  private MlaVsMhaTable() {}

  /** Prints the table, timing with {@code backend} (which should have {@link #THREADS} threads). */
  static void print(PrintStream out, Backend backend) {
    try (DecodeFixture f = new DecodeFixture(PRESET, CONTEXT, CACHE, 42)) {
      long mlaBytes = f.latentCache().bytesPerToken();
      long mhaBytes = f.kvCache().bytesPerToken();
      Timing mla = time(() -> f.mla(backend));
      Timing mha = time(() -> f.mha(backend));
      out.printf("MLA vs MHA, one layer of %s, context %d, %s cache, %s%n", PRESET, CONTEXT, CACHE,
          backend.description());
      out.printf("  %-5s %16s %16s %8s%n", "", "cache B/token", "decode step", "runs");
      out.printf("  %-5s %16d %13.1f us %8d%n", "MLA", mlaBytes, mla.medianMicros, mla.runs);
      out.printf("  %-5s %16d %13.1f us %8d%n", "MHA", mhaBytes, mha.medianMicros, mha.runs);
      double speedup = mha.medianMicros / mla.medianMicros;
      out.printf("  MLA: cache %.2fx smaller, decode step %.2fx %s (quick median; JMH gives the"
          + " careful numbers)%n", (double) mhaBytes / mlaBytes,
          speedup >= 1 ? speedup : 1 / speedup, speedup >= 1 ? "faster" : "slower");
    }
  }

  private record Timing(double medianMicros, int runs) {}

  private static Timing time(Runnable step) {
    long warmEnd = System.nanoTime() + WARMUP_NANOS;
    int warm = 0;
    do {
      step.run();
      warm++;
    } while (warm < 3 || System.nanoTime() < warmEnd);
    long[] nanos = new long[RUNS];
    int n = 0;
    long budgetEnd = System.nanoTime() + TIMING_BUDGET_NANOS;
    while (n < RUNS && (n < 5 || System.nanoTime() < budgetEnd)) {
      long t0 = System.nanoTime();
      step.run();
      nanos[n++] = System.nanoTime() - t0;
    }
    long[] done = Arrays.copyOf(nanos, n);
    Arrays.sort(done);
    double median = n % 2 == 1 ? done[n / 2] : (done[n / 2 - 1] + done[n / 2]) / 2.0;
    return new Timing(median / 1e3, n);
  }
}
