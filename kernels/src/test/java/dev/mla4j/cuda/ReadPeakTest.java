package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.testing.BackendCases;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The read-bandwidth probe behind the benchmarks' memory ceiling reads every byte once: the XOR
 * of its per-thread folds equals the XOR of the buffer's 32-bit words, computed on the host, for
 * sizes below one grid-stride round, between rounds and with a tail. Skipped without a GPU.
 */
@Tag("gpu")
class ReadPeakTest {
  private static CudaContext ctx;

  @BeforeAll
  static void needsGpu() {
    BackendCases.assumeCuda();
    ctx = CudaContext.get();
  }

  /** Multiples of 16 bytes; the grid reads READ_PEAK_THREADS·blocks·16 bytes per stride. */
  @ParameterizedTest
  @ValueSource(longs = {16, 4096 + 48, 3L << 20, (5L << 20) + 16 * 1001, 64L << 20})
  void foldsEveryWordOnce(long bytes) {
    Seeds.Case c = Seeds.forCase("read probe " + bytes + " B");
    int blocks = CudaOps.readPeakBlocks(ctx);
    long outBytes = (long) blocks * CudaOps.READ_PEAK_THREADS * Integer.BYTES;
    try (Arena arena = Arena.ofConfined(); CudaStream stream = ctx.newStream();
        DeviceBuffer src = ctx.allocate(bytes); DeviceBuffer out = ctx.allocate(outBytes)) {
      MemorySegment host = arena.allocate(bytes, 16);
      int expected = 0;
      for (long i = 0; i < bytes / 4; i++) {
        int w = c.random().nextInt();
        host.setAtIndex(ValueLayout.JAVA_INT, i, w);
        expected ^= w;
      }
      src.upload(stream, host, 0);
      CudaOps.readPeak(ctx, stream, src.pointer(), bytes, out.pointer());
      MemorySegment folds = arena.allocate(outBytes, 16);
      out.download(stream, 0, folds);
      stream.synchronize();
      int actual = 0;
      for (long t = 0; t < outBytes / 4; t++) {
        actual ^= folds.getAtIndex(ValueLayout.JAVA_INT, t);
      }
      assertEquals(expected, actual, c + ": XOR of the probe's folds");
    }
  }

  @Test
  void refusesSizesItWouldReadPartly() {
    try (DeviceBuffer src = ctx.allocate(64); DeviceBuffer out = ctx.allocate(1 << 20);
        CudaStream stream = ctx.newStream()) {
      var e = assertThrows(IllegalArgumentException.class,
          () -> CudaOps.readPeak(ctx, stream, src.pointer(), 40, out.pointer()));
      assertTrue(e.getMessage().contains("multiple of 16"), e.getMessage());
      assertThrows(IllegalArgumentException.class,
          () -> CudaOps.readPeak(ctx, stream, src.pointer() + 8, 48, out.pointer()));
    }
  }
}
