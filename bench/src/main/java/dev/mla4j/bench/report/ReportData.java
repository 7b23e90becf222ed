package dev.mla4j.bench.report;

import dev.mla4j.bench.JmhResult;
import java.util.List;

/**
 * Everything a report shows, measured or computed before the Markdown and the charts are made.
 *
 * @param selfCheck the kernel self-check table as printed
 * @param jmh the JMH results (ceilings and suites)
 * @param gpu GPU results, or null when the cuda backend did not run
 * @param budgetBytes memory budget of the "tokens that fit" columns
 * @param failed trials that produced no result, with the reason
 */
public record ReportData(Environment environment, String selfCheck, boolean selfCheckPassed,
    List<JmhResult> jmh, GpuResults gpu, long budgetBytes, List<String> failed) {}
