/**
 * The benchmark report ({@code ./mla4j report}): which trials a profile runs ({@link
 * dev.mla4j.bench.report.Profile}, {@link dev.mla4j.bench.report.SuitePlan}), running them
 * through JMH's Runner API ({@link dev.mla4j.bench.report.SuiteRunner}) and the GPU decode
 * sweep ({@link dev.mla4j.bench.report.GpuSuite}), the computed cache sizes ({@link
 * dev.mla4j.bench.report.CacheSizes}, one row per {@link dev.mla4j.bench.report.CacheFormat}),
 * and the output: Markdown ({@link dev.mla4j.bench.report.MarkdownReport}) and SVG charts
 * ({@link dev.mla4j.bench.report.Charts}) in a {@link dev.mla4j.bench.report.ReportFolder}.
 *
 * <p>Depends on {@code dev.mla4j.bench} (benchmarks, costs, JMH results), the kernels module,
 * JMH, Jackson, JFreeChart and JFreeSVG. Only {@link dev.mla4j.bench.report.GpuSuite} touches
 * {@code dev.mla4j.cuda}, and only when the cuda backend is available. Never imports
 * {@code jdk.incubator.vector}.
 */
package dev.mla4j.bench.report;
