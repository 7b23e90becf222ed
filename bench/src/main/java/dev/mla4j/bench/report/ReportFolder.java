package dev.mla4j.bench.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.mla4j.bench.JmhResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A report folder: {@code report.md}, the SVG charts, {@code jmh-results.json} (JMH's own
 * format), {@code gpu-results.json}, {@code report-data.json} (machine, self-check, everything
 * else the Markdown needs, so it can be re-made without measuring again) and {@code jmh.log}.
 */
public final class ReportFolder {
  public static final String JMH_JSON = "jmh-results.json";
  public static final String GPU_JSON = "gpu-results.json";
  public static final String DATA_JSON = "report-data.json";
  public static final String LOG = "jmh.log";
  public static final String MARKDOWN = "report.md";
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT);

  private final Path dir;

  private ReportFolder(Path dir) {
    this.dir = dir;
  }

  /**
   * A folder to write a new report into. Refuses an existing non-empty folder unless
   * {@code force}, and then deletes only the files a report writes there (nothing else).
   */
  public static ReportFolder create(Path dir, boolean force) throws IOException {
    checkWritable(dir, force);
    if (Files.isDirectory(dir)) {
      for (Path p : reportFiles(dir)) {
        Files.delete(p);
      }
    }
    Files.createDirectories(dir);
    return new ReportFolder(dir);
  }

  /**
   * Throws, naming the way out, where {@link #create} would: {@code dir} is a file, or a
   * non-empty folder and not {@code force}. Lets a run refuse before it measures anything.
   */
  public static void checkWritable(Path dir, boolean force) throws IOException {
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new IllegalArgumentException("--out " + dir + " is a file, not a folder");
    }
    if (!force && !isEmptyOrAbsent(dir)) {
      throw new IllegalArgumentException("report folder " + dir + " already exists; add --force"
          + " to replace its report, or choose another with --out DIR");
    }
  }

  /**
   * The folder a run without {@code --out} writes to: {@code base}, or where that holds
   * something already (a published report in git, an earlier run) the sibling
   * {@code base-<stamp>} (then {@code -2}, {@code -3}, ...), so that the default run never
   * stops and never touches a report it did not write.
   */
  public static Path freshDefault(Path base, String stamp) throws IOException {
    if (isEmptyOrAbsent(base)) {
      return base;
    }
    Path dated = base.resolveSibling(base.getFileName() + "-" + stamp);
    for (int k = 2; !isEmptyOrAbsent(dated); k++) {
      dated = base.resolveSibling(base.getFileName() + "-" + stamp + "-" + k);
    }
    return dated;
  }

  private static boolean isEmptyOrAbsent(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return true;
    }
    if (!Files.isDirectory(dir)) {
      return false;
    }
    try (Stream<Path> all = Files.list(dir)) {
      return all.findAny().isEmpty();
    }
  }

  /** An existing report folder, to re-make its Markdown and charts from its JSON. */
  public static ReportFolder existing(Path dir) {
    if (!Files.isRegularFile(dir.resolve(DATA_JSON)) || !Files.isRegularFile(dir.resolve(JMH_JSON))) {
      throw new IllegalArgumentException(dir + " is not a report folder: it needs " + DATA_JSON
          + " and " + JMH_JSON + " (written by a run of the report)");
    }
    return new ReportFolder(dir);
  }

  private static List<Path> reportFiles(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(Files::isRegularFile).filter(p -> {
        String n = p.getFileName().toString();
        return n.endsWith(".svg") || n.equals(JMH_JSON) || n.equals(GPU_JSON)
            || n.equals(DATA_JSON) || n.equals(LOG) || n.equals(MARKDOWN);
      }).toList();
    }
  }

  public Path dir() {
    return dir;
  }

  public Path file(String name) {
    return dir.resolve(name);
  }

  /** Saves what the Markdown needs besides the JMH JSON (which JMH's runner writes itself). */
  public void save(ReportData data) throws IOException {
    JSON.writeValue(file(DATA_JSON).toFile(), new Saved(data.environment(), data.selfCheck(),
        data.selfCheckPassed(), data.budgetBytes(), data.failed()));
    if (data.gpu() != null) {
      JSON.writeValue(file(GPU_JSON).toFile(), data.gpu());
    }
  }

  /** Reads back what {@link #save} and the JMH runner wrote. */
  public ReportData load() throws IOException {
    Saved s = JSON.readValue(file(DATA_JSON).toFile(), Saved.class);
    GpuResults gpu = Files.isRegularFile(file(GPU_JSON))
        ? JSON.readValue(file(GPU_JSON).toFile(), GpuResults.class) : null;
    return new ReportData(s.environment(), s.selfCheck(), s.selfCheckPassed(),
        JmhResult.read(file(JMH_JSON)), gpu, s.budgetBytes(), s.failed());
  }

  /**
   * Writes the charts and {@code report.md}; returns the Markdown's path. A host where Java2D
   * cannot measure text (no fontconfig or fonts, as on bare GPU hosts) still gets the Markdown
   * and the JSON; the charts can be drawn later anywhere with {@code --rerender}.
   */
  public Path render(ReportData data) throws IOException {
    Map<String, String> charts;
    try {
      charts = ReportCharts.write(dir, data);
    } catch (RuntimeException | LinkageError e) {
      System.err.println("mla4j report: charts not drawn here (" + e.getMessage() + "); the "
          + "measurements are saved: run `ReportMain --rerender --out " + dir + "` on a machine "
          + "with fonts to draw them");
      charts = Map.of();
    }
    Path md = file(MARKDOWN);
    Files.writeString(md, MarkdownReport.render(data, charts), StandardCharsets.UTF_8);
    return md;
  }

  private record Saved(Environment environment, String selfCheck, boolean selfCheckPassed,
      long budgetBytes, List<String> failed) {}
}
