package dev.mla4j.bench.report;

import java.util.Map;
import java.util.stream.Collectors;

/**
 * One JMH run of the report: one benchmark method with one value per parameter.
 *
 * @param benchmark simple class name in {@code dev.mla4j.bench}, e.g. {@code DecodeBenchmark}
 * @param method the {@code @Benchmark} method, e.g. {@code mla}
 * @param params every {@code @Param} that differs from the class's default list
 */
public record Trial(String benchmark, String method, Map<String, String> params) {
  static final String PACKAGE = "dev.mla4j.bench.";

  /** Fully qualified benchmark name as JMH writes it in its JSON. */
  public String fullName() {
    return PACKAGE + benchmark + "." + method;
  }

  /** e.g. {@code DecodeBenchmark.mla backend=simd preset=LLAMA2_7B_DKV16 context=4096}. */
  public String describe() {
    return benchmark + "." + method + " " + params.entrySet().stream()
        .filter(e -> !e.getKey().equals("threads") && !e.getKey().equals("dtype"))
        .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(" "));
  }
}
