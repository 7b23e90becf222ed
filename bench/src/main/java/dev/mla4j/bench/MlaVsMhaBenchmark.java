package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * One layer's MLA attention ({@link #mla}) timed against the MHA attention it replaces
 * ({@link #mha}) over a {@link DecodeFixture}: what {@link DecodeBenchmark}, {@link
 * PrefillBenchmark} and {@link QuantizedDecodeBenchmark} share. JMH generates each subclass's own
 * benchmarks ({@code DecodeBenchmark.mla}, ...) from the inherited methods. The {@code @Param}
 * fields stay on each subclass because their values differ per suite; the run settings
 * ({@code @Warmup}, {@code @Fork}, ...) stay beside them: a suite's file says all of how it runs.
 */
public abstract class MlaVsMhaBenchmark {
  private Backend impl;
  private DecodeFixture fixture;

  /** This trial's backend ({@link BenchBackends#open}: an unavailable one fails the trial). */
  abstract Backend openBackend();

  /** This trial's data; {@code method} ({@code mla} or {@code mha}) is the one JMH times. */
  abstract DecodeFixture newFixture(String method);

  /** What the trial's header line adds after preset and context; nothing by default. */
  String details(DecodeFixture fixture) {
    return "";
  }

  @Setup(Level.Trial)
  public void setUp(BenchmarkParams params) {
    impl = openBackend();
    String benchmark = params.getBenchmark();
    fixture = newFixture(benchmark.substring(benchmark.lastIndexOf('.') + 1));
    System.out.println("# mla4j: " + impl.description() + ", " + fixture.preset() + ", N="
        + fixture.context() + details(fixture));
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fixture.close();
    impl.close();
  }

  @Benchmark
  public Tensor mla() {
    return fixture.mla(impl);
  }

  @Benchmark
  public Tensor mha() {
    return fixture.mha(impl);
  }
}
