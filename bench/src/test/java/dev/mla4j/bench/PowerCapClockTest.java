package dev.mla4j.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backends;
import dev.mla4j.cuda.CudaContext;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** NVML's power-violation clock: found for the CUDA device, absent (not an error) otherwise. */
class PowerCapClockTest {
  @Test
  void aDeviceNvmlDoesNotKnowHasNoClock() {
    // no GPU sits at the last function of the last bus; without NVML (CI) the answer is the same
    assertTrue(PowerCapClock.forDevice("ffff:ff:1f.7").isEmpty());
    assertTrue(PowerCapClock.forDevice("not a bus id").isEmpty());
  }

  @Test
  @Tag("gpu")
  void theCudaDevicesClockNeverRunsBackwards() throws InterruptedException {
    Optional<String> why = Backends.cudaUnavailableReason();
    Assumptions.assumeTrue(why.isEmpty(), () -> "no GPU: " + why.orElse(""));
    String bus = CudaContext.get().pciBusId();
    assertTrue(bus.matches("[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]"), bus);
    PowerCapClock clock = PowerCapClock.forDevice(bus)
        .orElseThrow(() -> new AssertionError("no NVML power-violation clock for " + bus));
    long a = clock.cappedNanos();
    Thread.sleep(50);
    long b = clock.cappedNanos();
    assertTrue(a >= 0 && b >= a, a + " then " + b);
  }
}
