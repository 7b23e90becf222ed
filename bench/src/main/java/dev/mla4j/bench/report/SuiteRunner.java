package dev.mla4j.bench.report;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatFactory;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormat;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs a report's JMH trials one at a time through JMH's Runner API, each in one fork that
 * inherits this JVM's flags. JMH's own output goes to {@code jmh.log}; the console gets one
 * progress line per trial. After every trial the JSON result file holds all results so far, so
 * an interrupted run keeps what it measured.
 */
public final class SuiteRunner {
  private final Profile profile;
  private final Path json;
  private final Path log;
  private final PrintStream console;

  public SuiteRunner(Profile profile, Path json, Path log, PrintStream console) {
    this.profile = profile;
    this.json = json;
    this.log = log;
    this.console = console;
  }

  /** Runs every trial; returns the descriptions of those that failed (details in the log). */
  public List<String> run(List<Trial> trials) throws IOException {
    List<RunResult> results = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    long start = System.nanoTime();
    try (PrintStream logStream = new PrintStream(new FileOutputStream(log.toFile()), true,
        StandardCharsets.UTF_8)) {
      OutputFormat format = OutputFormatFactory.createFormatInstance(logStream, VerboseMode.NORMAL);
      for (int i = 0; i < trials.size(); i++) {
        Trial trial = trials.get(i);
        console.printf("[%d/%d] %s   (elapsed %s, eta %s)%n", i + 1, trials.size(),
            trial.describe(), clock(System.nanoTime() - start),
            i == 0 ? "?" : clock((System.nanoTime() - start) / i * (trials.size() - i)));
        try {
          List<RunResult> got = new ArrayList<>(new Runner(options(trial), format).run());
          if (got.isEmpty()) {
            failed.add(trial.describe());
          }
          results.addAll(got);
        } catch (RunnerException e) {
          failed.add(trial.describe() + ": " + e.getMessage());
          e.printStackTrace(logStream);
        }
        write(results);
      }
    }
    console.printf("benchmarks done in %s%s%n", clock(System.nanoTime() - start),
        failed.isEmpty() ? "" : ", " + failed.size() + " failed (see " + log + ")");
    return failed;
  }

  private org.openjdk.jmh.runner.options.Options options(Trial trial) {
    ChainedOptionsBuilder b = new OptionsBuilder()
        .include("^" + Pattern.quote(trial.fullName()) + "$")
        .forks(1)
        .warmupIterations(profile.warmupIterations())
        .warmupTime(TimeValue.milliseconds(profile.warmupMillis()))
        .measurementIterations(profile.iterations())
        .measurementTime(TimeValue.milliseconds(profile.iterationMillis()))
        .shouldFailOnError(false);
    trial.params().forEach(b::param);
    return b.build();
  }

  private void write(List<RunResult> results) throws IOException {
    Path tmp = json.resolveSibling(json.getFileName() + ".tmp");
    try (PrintStream out = new PrintStream(Files.newOutputStream(tmp), false,
        StandardCharsets.UTF_8)) {
      ResultFormatFactory.getInstance(ResultFormatType.JSON, out).writeOut(results);
    }
    Files.move(tmp, json, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  /** {@code m:ss} of a duration in nanoseconds. */
  public static String clock(long nanos) {
    long s = Math.round(nanos / 1e9);
    return String.format("%d:%02d", s / 60, s % 60);
  }
}
