package dev.mla4j.bench;

import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The machine ceilings measured by {@link CeilingBenchmark} in a set of JMH results: best read
 * bandwidth and best vector FMA rate per thread count.
 */
public final class Ceilings {
  private final TreeMap<Integer, Double> readBytesPerSecond = new TreeMap<>();
  private final TreeMap<Integer, Double> flopsPerSecond = new TreeMap<>();

  public Ceilings(List<JmhResult> results) {
    for (JmhResult r : results) {
      String name = r.shortName();
      if (name.startsWith("CeilingBenchmark.read")) {
        readBytesPerSecond.merge(r.threads(), r.bytesPerSecond(), Math::max);
      } else if (name.startsWith("CeilingBenchmark.fma")) {
        flopsPerSecond.merge(r.threads(), r.flopsPerSecond(), Math::max);
      }
    }
  }

  public boolean isEmpty() {
    return readBytesPerSecond.isEmpty() && flopsPerSecond.isEmpty();
  }

  /** Best read bandwidth per JMH thread count, in bytes per second. */
  public SortedMap<Integer, Double> readByThreads() {
    return Collections.unmodifiableSortedMap(readBytesPerSecond);
  }

  /** Best vector FMA rate per JMH thread count, in FLOPs per second. */
  public SortedMap<Integer, Double> flopsByThreads() {
    return Collections.unmodifiableSortedMap(flopsPerSecond);
  }

  /** Read bandwidth with {@code threads} threads (or the most measured below it), or NaN. */
  public double readBytesPerSecond(int threads) {
    return atMost(readBytesPerSecond, threads);
  }

  /** FMA FLOP/s with {@code threads} threads (or the most measured below it), or NaN. */
  public double flopsPerSecond(int threads) {
    return atMost(flopsPerSecond, threads);
  }

  private static double atMost(TreeMap<Integer, Double> m, int threads) {
    var e = m.floorEntry(threads);
    return e == null ? Double.NaN : e.getValue();
  }

  /** e.g. {@code read 1T 12.3 GB/s, 2T 20.1 GB/s; FMA 1T 95.0 GFLOP/s, 2T 190.2 GFLOP/s}. */
  public String summary() {
    StringBuilder sb = new StringBuilder("read");
    readBytesPerSecond.forEach((t, v) -> sb.append(String.format(" %dT %.1f GB/s", t, v / 1e9)));
    sb.append("; FMA");
    flopsPerSecond.forEach((t, v) -> sb.append(String.format(" %dT %.1f GFLOP/s", t, v / 1e9)));
    return sb.toString();
  }
}
