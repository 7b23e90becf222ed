package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.bench.report.Environment;
import dev.mla4j.bench.report.GpuResults;
import dev.mla4j.bench.report.GpuSuite;
import dev.mla4j.bench.report.Profile;
import dev.mla4j.bench.report.ReportData;
import dev.mla4j.bench.report.ReportFolder;
import dev.mla4j.bench.report.SuitePlan;
import dev.mla4j.bench.report.SuiteRunner;
import dev.mla4j.bench.report.Trial;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./mla4j report}: self-checks every kernel against the double-precision oracle, runs
 * the JMH suites (and on a GPU the CUDA-event decode sweep) of a profile on every available
 * backend, and writes a report folder (Markdown, SVG charts, JSON). {@code roofline
 * RESULTS.json...} prints the roofline table of JMH results instead. Runs as plain java too:
 * {@code java FLAGS -cp bench/target/benchmarks.jar dev.mla4j.bench.ReportMain --out DIR}.
 */
@Command(name = "report", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Measures MLA against MHA on this machine and writes a report folder.")
public final class ReportMain implements Callable<Integer> {
  /** The UTC minute a default folder's sibling is named after: bench/reports/x-quick-20261124-0612. */
  private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmm");

  @Option(names = "--profile", paramLabel = "quick|full|smoke", defaultValue = "quick",
      description = "quick (minutes), full (careful, long) or smoke (seconds, pipeline check).")
  String profile;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Report folder (default bench/reports/<machine>-<profile>, or, where that"
          + " holds a report already, a dated sibling of it).")
  Path out;

  @Option(names = "--force", description = "Replace the report in an existing --out folder.")
  boolean force;

  @Option(names = "--backends", split = ",", paramLabel = "scalar,simd,cuda",
      description = "Backends to measure (default: every one available here).")
  List<String> backends;

  @Option(names = "--budget-gib", defaultValue = "16", paramLabel = "GiB",
      description = "Memory budget of the tokens-that-fit columns (default ${DEFAULT-VALUE}).")
  double budgetGib;

  @Option(names = "--rerender", description = "Re-make report.md and the charts of --out from"
      + " its JSON without measuring.")
  boolean rerender;

  public static void main(String[] args) throws IOException {
    System.setProperty("java.awt.headless", "true");
    if (args.length > 0 && args[0].equals("roofline")) {
      RooflineTable.main(Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    System.exit(new CommandLine(new ReportMain()).execute(args));
  }

  @Override
  public Integer call() throws IOException {
    if (!(budgetGib > 0)) {
      throw new CommandLine.ParameterException(new CommandLine(this),
          "--budget-gib must be > 0, got " + budgetGib);
    }
    if (rerender) {
      if (out == null) {
        throw new CommandLine.ParameterException(new CommandLine(this), "--rerender needs --out");
      }
      ReportFolder folder = ReportFolder.existing(out);
      System.out.println("report rewritten: " + folder.render(folder.load()));
      return 0;
    }
    long start = System.nanoTime();
    Profile p = Profile.named(profile);
    if (out != null) {
      ReportFolder.checkWritable(out, force); // before minutes of measuring, not after
    }
    List<String> chosen = chooseBackends();
    int threads = Runtime.getRuntime().availableProcessors();
    List<String> descriptions = new ArrayList<>();
    ByteArrayOutputStream check = new ByteArrayOutputStream();
    boolean passed = true;
    PrintStream tee = new PrintStream(new Tee(System.out, check), true, StandardCharsets.UTF_8);
    for (String b : chosen) {
      try (Backend backend = Backends.named(b, threads)) {
        descriptions.add(backend.description());
        if (!b.equals("scalar") || chosen.size() == 1) {
          passed &= SelfCheck.run(tee, backend);
          tee.println();
        }
      }
    }
    if (!passed) {
      System.err.println("mla4j: kernel self-check FAILED (see the table above); nothing measured");
      return 1;
    }
    String gpu = chosen.contains("cuda") ? dev.mla4j.cuda.CudaContext.get().describe() : null;
    Environment env = Environment.here(EnvironmentInfo.vectorModulePresent()
        ? VectorWidth.describe() : "jdk.incubator.vector not present", descriptions, gpu, p.name());
    Path dir = out;
    if (dir == null) {
      Path base = Path.of("bench", "reports", env.slug() + "-" + p.name());
      dir = ReportFolder.freshDefault(base, STAMP.format(LocalDateTime.now(ZoneOffset.UTC)));
      if (!dir.equals(base)) {
        System.out.println(base + " holds a report already (kept); this one goes beside it");
      }
    }
    ReportFolder folder = ReportFolder.create(dir, force);
    System.out.println("writing the report into " + folder.dir());
    List<Trial> trials = SuitePlan.trials(p, chosen, threads);
    List<String> failed = new SuiteRunner(p, folder.file(ReportFolder.JMH_JSON),
        folder.file(ReportFolder.LOG), System.out).run(trials);
    if (trials.isEmpty()) {
      Files.writeString(folder.file(ReportFolder.JMH_JSON), "[]");
    }
    GpuResults gpuResults = chosen.contains("cuda") ? GpuSuite.run(p, System.out) : null;
    ReportData data = new ReportData(env.finished((System.nanoTime() - start) / 1e9),
        check.toString(StandardCharsets.UTF_8), true,
        dev.mla4j.bench.JmhResult.read(folder.file(ReportFolder.JMH_JSON)), gpuResults,
        (long) (budgetGib * (1L << 30)), failed);
    folder.save(data);
    Path md = folder.render(data);
    System.out.printf("report written: %s (%s)%n", md,
        SuiteRunner.clock(System.nanoTime() - start));
    return failed.isEmpty() ? 0 : 3;
  }

  /** The --backends list, checked, or every backend that can run here. */
  private List<String> chooseBackends() {
    if (backends != null) {
      for (String b : backends) {
        Backends.named(b, 1).close(); // throws with the reason when b cannot run here
      }
      return backends;
    }
    List<String> all = new ArrayList<>(List.of("scalar"));
    if (Backends.simdUnavailableReason().isEmpty()) {
      all.add("simd");
    }
    if (Backends.cudaUnavailableReason().isEmpty()) {
      all.add("cuda");
    }
    return all;
  }

  /** Writes to two streams: the console and the report's copy of the self-check. */
  private static final class Tee extends OutputStream {
    private final OutputStream a;
    private final OutputStream b;

    Tee(OutputStream a, OutputStream b) {
      this.a = a;
      this.b = b;
    }

    @Override
    public void write(int c) throws IOException {
      a.write(c);
      b.write(c);
    }

    @Override
    public void write(byte[] buf, int off, int len) throws IOException {
      a.write(buf, off, len);
      b.write(buf, off, len);
    }

    @Override
    public void flush() throws IOException {
      a.flush();
      b.flush();
    }
  }
}
