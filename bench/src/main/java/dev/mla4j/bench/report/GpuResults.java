package dev.mla4j.bench.report;

import dev.mla4j.bench.CudaDecode;
import java.util.List;

/**
 * The report's GPU measurements (CUDA events, not JMH).
 *
 * @param device the GPU as the CUDA backend describes it
 * @param copyGBps device-to-device copy bandwidth (read + write): the ceiling of kernels that
 *     write as much as they read (partial RoPE)
 * @param readGBps streaming-read bandwidth, the ceiling of kernels that mostly read (attention
 *     decode, the projections); 0 in files written before it was measured
 * @param prefill rows of a {@link GpuSuite#PREFILL_TOKENS}-token causal chunk (null in older files)
 * @param tensorCoreTflops dense BF16 tensor-core throughput, the compute ceiling: the faster of
 *     mma.sync and (sm_90) wgmma (NaN: not measured)
 * @param decode one row per preset, kind, batch and context, skipped ones included
 */
public record GpuResults(String device, double copyGBps, double readGBps,
    double tensorCoreTflops, List<CudaDecode.Row> decode, List<CudaDecode.Row> prefill) {

  /** The read ceiling, or the copy ceiling for a file that predates the read probe. */
  public double readCeilingGBps() {
    return readGBps > 0 ? readGBps : copyGBps;
  }
}
