package dev.mla4j.bench;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.cuda.CudaContext;
import dev.mla4j.cuda.CudaOps;
import dev.mla4j.cuda.CudaStream;
import dev.mla4j.cuda.DeviceBuffer;
import dev.mla4j.tensor.DType;
import dev.mla4j.testing.BackendCases;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A timed row whose launches the host queues no faster than the GPU runs them times the host,
 * not the kernel; {@link CudaDecode#timeWarm} re-warms and re-times those, and
 * {@link CudaDecode#timeReplays} times CUDA graph replays of the same work instead.
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
    BackendCases.assumeCuda();
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

  @Test
  @Tag("gpu")
  void graphReplaysTimeTheKernelWithoutTheHostsLaunchPath() {
    BackendCases.assumeCuda();
    CudaContext ctx = CudaContext.get();
    long floats = 16L << 20;  // 64 MB: tens of microseconds on any GPU
    try (CudaStream stream = ctx.newStream(); DeviceBuffer b = ctx.allocate(4 * floats)) {
      IntFunction<Runnable> fill = c -> () -> CudaOps.fillRandom(ctx, stream, b.pointer(),
          floats, DType.F32, 3 + c);
      double direct = CudaDecode.median(CudaDecode.time(ctx, stream, 30, fill.apply(0)));
      CudaDecode.Timed replays = CudaDecode.timeReplays(ctx, stream, 30, direct, 2, fill);
      double replayed = CudaDecode.median(replays.ms());
      assertFalse(replays.hostBound(), "replays of a " + direct * 1e3 + " us kernel host-bound");
      assertTrue(replayed > 0.5 * direct && replayed < 2 * direct,
          "replays " + replayed * 1e3 + " us against direct launches' " + direct * 1e3 + " us");
    }
  }
}
