package dev.mla4j.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * With {@code -Dmla4j.test.calibrate=FILE}, appends to FILE at JVM exit the largest observed error per
 * check in units of ε·sqrt(n) (the "c" a check actually needed), for choosing
 * {@link ErrorCheck#FLOOR_C}.
 */
final class Calibration {
  private static final String FILE = System.getProperty("mla4j.test.calibrate");
  private static final boolean ON = FILE != null;
  private static final Map<String, double[]> WORST = new ConcurrentHashMap<>();

  static {
    if (ON) {
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        StringBuilder sb = new StringBuilder();
        WORST.forEach((k, v) -> sb.append(String.format("%-40s scalar c=%.3f backend c=%.3f%n",
            k, v[0], v[1])));
        try {
          Files.writeString(Path.of(FILE), sb, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }));
    }
  }

  private Calibration() {}

  static void record(String what, double scalarC, double backendC) {
    if (ON) {
      WORST.merge(what, new double[] {scalarC, backendC},
          (a, b) -> new double[] {Math.max(a[0], b[0]), Math.max(a[1], b[1])});
    }
  }
}
