package dev.mla4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One entry of a JMH JSON result file ({@code -rf json}).
 *
 * @param benchmark fully qualified, e.g. {@code dev.mla4j.bench.DecodeBenchmark.mla}
 * @param threads JMH threads that ran it concurrently
 * @param params the {@code @Param} values
 * @param median median of the measured iterations, in {@code unit}
 * @param unit JMH's score unit, e.g. {@code us/op} or {@code ops/s}
 */
public record JmhResult(String benchmark, int threads, Map<String, String> params, double median,
    String unit) {

  public static List<JmhResult> read(Path file) throws IOException {
    JsonNode root = new ObjectMapper().readTree(file.toFile());
    if (!root.isArray()) {
      throw new IOException(file + " is not a JMH JSON result (expected an array; run JMH with -rf json)");
    }
    List<JmhResult> out = new ArrayList<>();
    for (JsonNode entry : root) {
      JsonNode metric = entry.path("primaryMetric");
      JsonNode p50 = metric.path("scorePercentiles").path("50.0");
      if (!entry.hasNonNull("benchmark") || !p50.isNumber()) {
        throw new IOException(file + ": entry without benchmark name or median: " + entry);
      }
      Map<String, String> params = new LinkedHashMap<>();
      Iterator<Map.Entry<String, JsonNode>> it = entry.path("params").fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        params.put(e.getKey(), e.getValue().asText());
      }
      out.add(new JmhResult(entry.get("benchmark").asText(), entry.path("threads").asInt(1),
          params, p50.asDouble(), metric.path("scoreUnit").asText()));
    }
    return out;
  }

  /** Class and method, e.g. {@code DecodeBenchmark.mla}. */
  public String shortName() {
    String[] parts = benchmark.split("\\.");
    return parts.length < 2 ? benchmark
        : parts[parts.length - 2] + "." + parts[parts.length - 1];
  }

  /** Median seconds one operation took on one JMH thread. */
  public double secondsPerOp() {
    String[] u = unit.split("/");
    if (u.length != 2) {
      throw new IllegalArgumentException("unknown JMH score unit " + unit);
    }
    if (u[1].equals("op")) {
      return median * seconds(u[0]);
    }
    if (u[0].equals("ops")) {
      // throughput modes sum over threads: one thread did 1/threads of the operations
      return seconds(u[1]) * threads / median;
    }
    throw new IllegalArgumentException("unknown JMH score unit " + unit);
  }

  private static double seconds(String unit) {
    return switch (unit) {
      case "s" -> 1;
      case "ms" -> 1e-3;
      case "us" -> 1e-6;
      case "ns" -> 1e-9;
      case "min" -> 60;
      default -> throw new IllegalArgumentException("unknown JMH time unit " + unit);
    };
  }

  public Optional<KernelCost> cost() {
    return KernelCost.of(benchmark, params, threads);
  }

  /** Bytes per second over all JMH threads, or NaN without a known cost. */
  public double bytesPerSecond() {
    return cost().map(c -> c.bytes() * threads / secondsPerOp()).orElse(Double.NaN);
  }

  /** FLOPs per second over all JMH threads, or NaN without a known cost. */
  public double flopsPerSecond() {
    return cost().map(c -> c.flops() * threads / secondsPerOp()).orElse(Double.NaN);
  }

  /**
   * Threads doing the work: the benchmark's {@code threads} parameter (a backend's worker
   * threads) if it has one, else the JMH thread count.
   */
  public int workThreads() {
    String p = params.get("threads");
    return p != null ? Integer.parseInt(p) : threads;
  }
}
