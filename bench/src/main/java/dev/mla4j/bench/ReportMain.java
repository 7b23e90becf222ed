package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Arrays;

/**
 * {@code ./mla4j report}: what runs here, a self-check of every kernel against the
 * double-precision oracle, and a quick MLA-vs-MHA comparison. With
 * {@code roofline RESULTS.json...} it prints the roofline table of JMH results instead.
 * Each section is its own class; this one only dispatches.
 */
public final class ReportMain {
  private ReportMain() {}

  public static void main(String[] args) throws IOException {
    PrintStream out = System.out;
    if (args.length > 0 && args[0].equals("roofline")) {
      RooflineTable.main(Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    if (args.length > 0) {
      System.err.println("usage: ReportMain             backend, JVM and the MLA-vs-MHA table\n"
          + "       ReportMain roofline RESULTS.json...   roofline table of JMH JSON results");
      System.exit(2);
    }
    boolean passed;
    try (Backend selected = Backends.create()) {
      EnvironmentInfo.print(out, selected);
      out.println();
      passed = SelfCheck.run(out, selected);
    }
    out.println();
    try (Backend backend = Backends.create(MlaVsMhaTable.THREADS)) {
      MlaVsMhaTable.print(out, backend);
    }
    if (!passed) {
      System.err.println("mla4j: kernel self-check FAILED (see the table above)");
      System.exit(1);
    }
  }
}
