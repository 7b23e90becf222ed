package dev.mla4j.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Turns JMH JSON results into a roofline table: per benchmark the median time, GB/s, GFLOP/s
 * and their fractions of the ceilings measured by {@link CeilingBenchmark} (taken from the same
 * files, at the benchmark's thread count), then MLA's speed-up over MHA per decode shape.
 * Usage: {@code RooflineTable results.json [more.json ...]}.
 */
public final class RooflineTable {
  private RooflineTable() {}

  public static void main(String[] args) throws IOException {
    if (args.length == 0) {
      System.err.println("usage: RooflineTable RESULTS.json [MORE.json ...]  (JMH -rf json output)");
      System.exit(2);
    }
    List<JmhResult> results = new ArrayList<>();
    for (String a : args) {
      results.addAll(JmhResult.read(Path.of(a)));
    }
    print(System.out, results);
  }

  public static void print(PrintStream out, List<JmhResult> results) {
    Ceilings ceilings = new Ceilings(results);
    out.println(ceilings.isEmpty()
        ? "Ceilings: none in these results (run CeilingBenchmark too for the % columns)"
        : "Ceilings: " + ceilings.summary());
    out.printf("%-28s %18s %9s %9s %5s %5s  %s%n", "benchmark", "median", "GB/s", "GFLOP/s",
        "%BW", "%FMA", "params");
    for (JmhResult r : results) {
      double bw = r.bytesPerSecond();
      double fl = r.flopsPerSecond();
      int t = r.workThreads();
      out.printf("%-28s %18s %9s %9s %5s %5s  %s%n", r.shortName(),
          String.format("%.1f %s", r.median(), r.unit()), num(bw / 1e9), num(fl / 1e9),
          percent(bw / ceilings.readBytesPerSecond(t)), percent(fl / ceilings.flopsPerSecond(t)),
          params(r));
    }
    printSpeedups(out, results);
  }

  /** MLA vs MHA decode time for every DecodeBenchmark parameter set that has both. */
  static void printSpeedups(PrintStream out, List<JmhResult> results) {
    Map<String, JmhResult> mla = new LinkedHashMap<>();
    Map<String, JmhResult> mha = new LinkedHashMap<>();
    for (JmhResult r : results) {
      switch (r.shortName()) {
        case "DecodeBenchmark.mla" -> mla.put(params(r), r);
        case "DecodeBenchmark.mha" -> mha.put(params(r), r);
        default -> { }
      }
    }
    if (mla.keySet().stream().noneMatch(mha::containsKey)) {
      return;
    }
    out.println();
    out.printf("%14s %14s %8s  %s%n", "MLA", "MHA", "MHA/MLA", "decode shape");
    mla.forEach((key, m) -> {
      JmhResult h = mha.get(key);
      if (h != null) {
        out.printf("%11.1f us %11.1f us %7.2fx  %s%n", m.secondsPerOp() * 1e6,
            h.secondsPerOp() * 1e6, h.secondsPerOp() / m.secondsPerOp(), key);
      }
    });
  }

  private static String params(JmhResult r) {
    return r.params().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
        .collect(Collectors.joining(" "));
  }

  private static String num(double v) {
    return Double.isNaN(v) ? "-" : String.format("%.2f", v);
  }

  private static String percent(double fraction) {
    return Double.isNaN(fraction) ? "-" : String.format("%.0f%%", 100 * fraction);
  }
}
