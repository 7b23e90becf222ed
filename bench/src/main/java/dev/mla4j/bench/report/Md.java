package dev.mla4j.bench.report;

import java.util.List;
import java.util.Locale;

/** Markdown tables and the number formats the report uses. */
final class Md {
  private Md() {}

  static void table(StringBuilder sb, List<String> header, List<List<String>> rows) {
    sb.append("| ").append(String.join(" | ", header)).append(" |\n|");
    for (int i = 0; i < header.size(); i++) {
      sb.append(i == 0 ? "---|" : "---:|");
    }
    sb.append('\n');
    for (List<String> r : rows) {
      sb.append("| ").append(String.join(" | ", r)).append(" |\n");
    }
    sb.append('\n');
  }

  /** A time given in microseconds: {@code 812.3 µs}, {@code 12.35 ms}, {@code -} for NaN. */
  static String micros(double us) {
    if (Double.isNaN(us)) {
      return "-";
    }
    return us >= 1000 ? f("%.2f ms", us / 1000) : us >= 10 ? f("%.1f µs", us) : f("%.2f µs", us);
  }

  static String num(double v, int decimals) {
    return Double.isNaN(v) || Double.isInfinite(v) ? "-" : f("%,." + decimals + "f", v);
  }

  static String percent(double fraction) {
    return Double.isNaN(fraction) || Double.isInfinite(fraction) ? "-"
        : f("%.0f%%", 100 * fraction);
  }

  /** A reduction as the paper writes it: 0.6875 → {@code −68.75%}. */
  static String reduction(double fraction) {
    return f("−%.2f%%", 100 * fraction);
  }

  static String times(double ratio) {
    return Double.isNaN(ratio) ? "-" : f("%.2f×", ratio);
  }

  static String count(long v) {
    return f("%,d", v);
  }

  /** Bytes in binary units: {@code 512 B}, {@code 1.50 MiB}, {@code 2.00 GiB}. */
  static String bytes(double b) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < units.length - 1) {
      b /= 1024;
      u++;
    }
    return u == 0 ? f("%.0f B", b) : f("%.2f %s", b, units[u]);
  }

  /** {@code 1K}, {@code 32K}, {@code 128K} for multiples of 1024, else the number. */
  static String tokens(int n) {
    return n % 1024 == 0 ? (n / 1024) + "K" : Integer.toString(n);
  }

  private static String f(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }
}
