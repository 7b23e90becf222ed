package dev.mla4j.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * How long the GPU has been held below its application clocks by its power limit, as NVML counts
 * it (nvmlDeviceGetViolationStatus, NVML_PERF_POLICY_POWER; a read-only query, no setting is
 * touched). The difference of two readings around a timed window is the part of the window that
 * ran power-capped: a row timed while the board sat at its limit (700 W on an H100 SXM, reached
 * within a second of long-context decode) ran at lowered SM clocks, which slows a kernel whose
 * per-tile chain is close to its memory time more than one that is purely bound by either.
 */
public final class PowerCapClock {
  private static final String LIBRARY = "libnvidia-ml.so.1";
  private static final int NVML_SUCCESS = 0;
  private static final int NVML_PERF_POLICY_POWER = 0;

  private final MethodHandle violationStatus;
  private final MemorySegment device;

  private PowerCapClock(MethodHandle violationStatus, MemorySegment device) {
    this.violationStatus = violationStatus;
    this.device = device;
  }

  /**
   * The clock of the device at {@code pciBusId} ({@code CudaContext.pciBusId()}), or empty where
   * NVML is not installed, does not know the device, or does not report power violations there:
   * the benchmarks then record no power-cap figure rather than fail.
   */
  public static Optional<PowerCapClock> forDevice(String pciBusId) {
    try {
      Linker linker = Linker.nativeLinker();
      SymbolLookup lib = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
      MethodHandle init = linker.downcallHandle(lib.findOrThrow("nvmlInit_v2"),
          FunctionDescriptor.of(JAVA_INT));
      MethodHandle byBus = linker.downcallHandle(
          lib.findOrThrow("nvmlDeviceGetHandleByPciBusId_v2"),
          FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
      MethodHandle status = linker.downcallHandle(lib.findOrThrow("nvmlDeviceGetViolationStatus"),
          FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
      if ((int) init.invokeExact() != NVML_SUCCESS) {
        return Optional.empty();
      }
      MemorySegment handle;
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment out = arena.allocate(ADDRESS);
        if ((int) byBus.invokeExact(arena.allocateFrom(pciBusId), out) != NVML_SUCCESS) {
          return Optional.empty();
        }
        handle = out.get(ADDRESS, 0);
      }
      PowerCapClock clock = new PowerCapClock(status, handle);
      return clock.cappedNanos() < 0 ? Optional.empty() : Optional.of(clock);
    } catch (Throwable t) {  // no library, no symbol, no device: no figure
      return Optional.empty();
    }
  }

  /**
   * Nanoseconds the device has spent held below its application clocks by its power limit since
   * the driver loaded, or -1 if NVML stopped answering (a row then records no figure). Reads
   * nvmlViolationTime_t {u64 referenceTime (us), u64 violationTime (ns)}.
   */
  public long cappedNanos() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment time = arena.allocate(16, 8);
      int rc = (int) violationStatus.invokeExact(device, NVML_PERF_POLICY_POWER, time);
      return rc == NVML_SUCCESS ? time.get(JAVA_LONG, 8) : -1;
    } catch (Throwable t) {
      return -1;
    }
  }
}
