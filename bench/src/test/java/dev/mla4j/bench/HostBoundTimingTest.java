package dev.mla4j.bench;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backends;
import dev.mla4j.cuda.CudaContext;
import dev.mla4j.cuda.CudaOps;
import dev.mla4j.cuda.CudaStream;
import dev.mla4j.cuda.DeviceBuffer;
import dev.mla4j.tensor.DType;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A timed row whose launches the host queues no faster than the GPU runs them times the host,
 * not the kernel; {@link CudaDecode#timeWarm} re-warms and re-times those.
 */
class HostBoundTimingTest {
  @Test
  void queueingAtTheGpusPaceIsHostBound() {
    // 100 launches of 63 us on the GPU, queued in 6.0 ms: the host set the pace
    assertTrue(CudaDecode.hostBound(6_000_000, 100, 0.063));
    // queued in 1 ms (10 us each) against 22 us on the GPU: the GPU set it
    assertFalse(CudaDecode.hostBound(1_000_000, 100, 0.022));
  }

  @Test
  @Tag("gpu")
  void aHostThatSpinsBetweenLaunchesIsSeenQueueing() {
    Optional<String> why = Backends.cudaUnavailableReason();
    Assumptions.assumeTrue(why.isEmpty(), () -> "no GPU: " + why.orElse(""));
    CudaContext ctx = CudaContext.get();
    try (CudaStream stream = ctx.newStream(); DeviceBuffer b = ctx.allocate(1 << 20)) {
      Runnable fill = () -> CudaOps.fillRandom(ctx, stream, b.pointer(), 1 << 18, DType.F32, 3);
      long[] queued = new long[1];
      Runnable slow = () -> {
        fill.run();
        long until = System.nanoTime() + 300_000;  // 300 us of host work per launch
        while (System.nanoTime() < until) {
          Thread.onSpinWait();
        }
      };
      double[] ms = CudaDecode.time(ctx, stream, 20, slow, queued);
      assertTrue(CudaDecode.hostBound(queued[0], 20, CudaDecode.median(ms)),
          "queued " + queued[0] / 20e3 + " us per launch, GPU median " + CudaDecode.median(ms) * 1e3);
    }
  }
}
