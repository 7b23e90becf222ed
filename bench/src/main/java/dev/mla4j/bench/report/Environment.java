package dev.mla4j.bench.report;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/**
 * What a report ran on, so reports of different machines can be compared; written into the
 * report folder as JSON too.
 *
 * @param cpu CPU model ({@code /proc/cpuinfo}), or the architecture where that is unknown
 * @param processors processors the JVM sees
 * @param memoryBytes physical memory
 * @param vector Vector API width, or why there is none
 * @param backends description of each backend measured
 * @param gpu the GPU, or null without the cuda backend
 * @param wallSeconds wall time of the whole command (set when it is done)
 * @param loadStart the system's 1-minute load average when the run started (NaN if unknown)
 * @param loadEnd the same when it ended: above the processor count, other work shared the CPUs
 */
public record Environment(String cpu, int processors, long memoryBytes, String os, String jdk,
    String vector, List<String> backends, String gpu, String profile, String date,
    double wallSeconds, double loadStart, double loadEnd) {

  /** This machine and JVM. */
  public static Environment here(String vector, List<String> backends, String gpu,
      String profile) {
    long memory = ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os ? os.getTotalMemorySize() : 0;
    return new Environment(cpuModel(), Runtime.getRuntime().availableProcessors(), memory,
        System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
            + System.getProperty("os.arch"),
        System.getProperty("java.vm.vendor") + " " + System.getProperty("java.vm.name") + " "
            + Runtime.version(),
        vector, backends, gpu, profile,
        ZonedDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm z")), Double.NaN,
        load(), Double.NaN);
  }

  /** This environment at the end of the run: its wall time and the load average now. */
  public Environment finished(double seconds) {
    return new Environment(cpu, processors, memoryBytes, os, jdk, vector, backends, gpu, profile,
        date, seconds, loadStart, load());
  }

  private static double load() {
    double l = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    return l < 0 ? Double.NaN : l;
  }

  /** A folder-name-friendly short name of the machine: GPU model if any, else CPU model. */
  public String slug() {
    String name = gpu != null ? gpu.replaceAll("\\(.*", "") : cpu;
    String s = name.toLowerCase(Locale.ROOT).replaceAll("\\b(processor|nvidia|\\d+-core|cpu)\\b", "")
        .replaceAll("[^a-z0-9]+", "-").replaceAll("^-|-$", "");
    return s.isEmpty() ? "machine" : s;
  }

  private static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or not readable: the architecture is the best we know
    }
    return System.getProperty("os.arch");
  }
}
