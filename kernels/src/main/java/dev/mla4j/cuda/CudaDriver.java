package dev.mla4j.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Downcalls into the CUDA driver API (libcuda.so.1), built once. Versioned {@code _v2} symbols
 * are used where they exist. Every call goes through {@link #check}, which turns a CUresult other
 * than CUDA_SUCCESS into a {@link CudaException} naming the call and the result's name. Handles
 * (CUcontext, CUmodule, CUfunction, CUstream, CUevent) are addresses; device pointers are longs.
 */
final class CudaDriver {
  private static final Linker LINKER = Linker.nativeLinker();
  private static final String LIBRARY = "libcuda.so.1";
  private static String loadFailure;
  private static final SymbolLookup LIB = load();

  static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
  static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
  static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
  static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
  static final int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
  static final int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR = 39;
  static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
  static final int CUDA_ERROR_NO_DEVICE = 100;

  private static final FunctionDescriptor I_P = FunctionDescriptor.of(JAVA_INT, ADDRESS);
  private static final FunctionDescriptor I_L = FunctionDescriptor.of(JAVA_INT, JAVA_LONG);

  private static final MethodHandle INIT = handle("cuInit", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
  private static final MethodHandle GET_ERROR_NAME = handle("cuGetErrorName",
      FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
  private static final MethodHandle DRIVER_VERSION = handle("cuDriverGetVersion", I_P);
  private static final MethodHandle DEVICE_COUNT = handle("cuDeviceGetCount", I_P);
  private static final MethodHandle DEVICE_GET = handle("cuDeviceGet",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle DEVICE_NAME = handle("cuDeviceGetName",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
  private static final MethodHandle DEVICE_PCI_BUS_ID = handle("cuDeviceGetPCIBusId",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
  private static final MethodHandle DEVICE_ATTRIBUTE = handle("cuDeviceGetAttribute",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
  private static final MethodHandle PRIMARY_CTX_RETAIN = handle("cuDevicePrimaryCtxRetain",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle CTX_SET_CURRENT = handle("cuCtxSetCurrent", I_P);
  private static final MethodHandle MEM_ALLOC = handle("cuMemAlloc_v2",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
  private static final MethodHandle MEM_FREE = handle("cuMemFree_v2", I_L);
  private static final MethodHandle HTOD = handle("cuMemcpyHtoDAsync_v2",
      FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS));
  private static final MethodHandle DTOH = handle("cuMemcpyDtoHAsync_v2",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
  private static final MethodHandle DTOD = handle("cuMemcpyDtoDAsync_v2",
      FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS));
  private static final MethodHandle MEMSET_D32 = handle("cuMemsetD32Async",
      FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS));
  private static final MethodHandle MODULE_LOAD_DATA = handle("cuModuleLoadData",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle MODULE_GET_FUNCTION = handle("cuModuleGetFunction",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
  private static final MethodHandle FUNC_SET_ATTRIBUTE = handle("cuFuncSetAttribute",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
  private static final MethodHandle LAUNCH = handle("cuLaunchKernel", FunctionDescriptor.of(JAVA_INT,
      ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS,
      ADDRESS, ADDRESS));
  // Optional (CUDA 11.8+): without it every launch is a plain cuLaunchKernel.
  private static final MethodHandle LAUNCH_EX = find("cuLaunchKernelEx")
      .map(sym -> LINKER.downcallHandle(sym, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
          ADDRESS, ADDRESS)))
      .orElse(null);
  static final int CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION = 4;
  static final int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
  // Optional (CUDA 12.0+): without it no kernel is launched in clusters.
  private static final MethodHandle MAX_ACTIVE_CLUSTERS = find("cuOccupancyMaxActiveClusters")
      .map(sym -> LINKER.downcallHandle(sym, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
          ADDRESS)))
      .orElse(null);
  // CUlaunchConfig: 7 x u32 (grid, block, shared bytes), pad, CUstream, CUlaunchAttribute*, u32.
  private static final StructLayout LAUNCH_CONFIG = MemoryLayout.structLayout(
      MemoryLayout.sequenceLayout(7, JAVA_INT).withName("dims"), MemoryLayout.paddingLayout(4),
      ADDRESS.withName("stream"), ADDRESS.withName("attrs"), JAVA_INT.withName("count"),
      MemoryLayout.paddingLayout(4));
  private static final long CONFIG_STREAM = LAUNCH_CONFIG.byteOffset(PathElement.groupElement("stream"));
  private static final long CONFIG_ATTRS = LAUNCH_CONFIG.byteOffset(PathElement.groupElement("attrs"));
  private static final long CONFIG_COUNT = LAUNCH_CONFIG.byteOffset(PathElement.groupElement("count"));
  // CUlaunchAttribute: u32 id, 4 bytes of pad, a 64-byte value union.
  private static final long LAUNCH_ATTRIBUTE_BYTES = 72;
  private static final MethodHandle STREAM_CREATE = handle("cuStreamCreate",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle STREAM_DESTROY = handle("cuStreamDestroy_v2", I_P);
  private static final MethodHandle STREAM_SYNCHRONIZE = handle("cuStreamSynchronize", I_P);
  private static final MethodHandle EVENT_CREATE = handle("cuEventCreate",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle EVENT_DESTROY = handle("cuEventDestroy_v2", I_P);
  private static final MethodHandle EVENT_RECORD = handle("cuEventRecord",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle EVENT_SYNCHRONIZE = handle("cuEventSynchronize", I_P);
  // CUDA 12.8 added a _v2 that reports an error instead of a stale time for a blocking-sync event
  private static final MethodHandle EVENT_ELAPSED = handle(
      find("cuEventElapsedTime_v2").isPresent() ? "cuEventElapsedTime_v2" : "cuEventElapsedTime",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));

  // Graphs (CUDA 11.4+ for cuGraphInstantiateWithFlags), optional: without them only
  // CudaGraph.capture fails, saying so.
  static final int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
  private static final MethodHandle BEGIN_CAPTURE = optional("cuStreamBeginCapture_v2",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle END_CAPTURE = optional("cuStreamEndCapture",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle GRAPH_INSTANTIATE = optional("cuGraphInstantiateWithFlags",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
  private static final MethodHandle GRAPH_LAUNCH = optional("cuGraphLaunch",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle GRAPH_DESTROY = optional("cuGraphDestroy", I_P);
  private static final MethodHandle GRAPH_EXEC_DESTROY = optional("cuGraphExecDestroy", I_P);

  private CudaDriver() {}

  private static MethodHandle optional(String name, FunctionDescriptor fd) {
    return find(name).map(sym -> LINKER.downcallHandle(sym, fd)).orElse(null);
  }

  /** Null when this driver can capture and replay graphs, else what it lacks. */
  static String graphsMissing() {
    return BEGIN_CAPTURE == null || END_CAPTURE == null || GRAPH_INSTANTIATE == null
        || GRAPH_LAUNCH == null || GRAPH_DESTROY == null || GRAPH_EXEC_DESTROY == null
        ? LIBRARY + " lacks the graph calls (cuStreamBeginCapture_v2, cuGraphInstantiateWithFlags,"
            + " cuGraphLaunch: CUDA 11.4 or later)" : null;
  }

  static void beginCapture(MemorySegment stream) {
    call("cuStreamBeginCapture_v2", () -> (int) BEGIN_CAPTURE.invokeExact(stream,
        CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
  }

  /** Ends the capture on {@code stream}: its graph, or an exception (e.g. capture invalidated). */
  static MemorySegment endCapture(MemorySegment stream) {
    return addressOut("cuStreamEndCapture", p -> (int) END_CAPTURE.invokeExact(stream, p));
  }

  static MemorySegment instantiate(MemorySegment graph) {
    return addressOut("cuGraphInstantiateWithFlags",
        p -> (int) GRAPH_INSTANTIATE.invokeExact(p, graph, 0L));
  }

  static void launchGraph(MemorySegment exec, MemorySegment stream) {
    call("cuGraphLaunch", () -> (int) GRAPH_LAUNCH.invokeExact(exec, stream));
  }

  static void destroyGraph(MemorySegment graph) {
    call("cuGraphDestroy", () -> (int) GRAPH_DESTROY.invokeExact(graph));
  }

  static void destroyGraphExec(MemorySegment exec) {
    call("cuGraphExecDestroy", () -> (int) GRAPH_EXEC_DESTROY.invokeExact(exec));
  }

  private static SymbolLookup load() {
    try {
      return SymbolLookup.libraryLookup(LIBRARY, Arena.global());
    } catch (IllegalArgumentException | IllegalCallerException e) {
      loadFailure = LIBRARY + " could not be loaded (" + e.getMessage() + ")";
      return null;
    }
  }

  private static Optional<MemorySegment> find(String name) {
    return LIB == null ? Optional.empty() : LIB.find(name);
  }

  /** Null when the library or the symbol is missing; {@link #loadFailure()} then says why. */
  private static MethodHandle handle(String name, FunctionDescriptor fd) {
    Optional<MemorySegment> symbol = find(name);
    if (symbol.isEmpty()) {
      if (LIB != null && loadFailure == null) {
        loadFailure = LIBRARY + " has no symbol " + name + " (driver too old?)";
      }
      return null;
    }
    return LINKER.downcallHandle(symbol.get(), fd);
  }

  /** Empty when libcuda and every symbol used here were found, otherwise why not. */
  static Optional<String> loadFailure() {
    return Optional.ofNullable(loadFailure);
  }

  /** Throws {@link CudaException} naming {@code call} unless {@code result} is CUDA_SUCCESS. */
  static void check(String call, int result) {
    if (result != 0) {
      throw new CudaException(call + " failed: " + errorName(result) + " (CUresult " + result + ")");
    }
  }

  static String errorName(int result) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = arena.allocate(ADDRESS);
      if ((int) GET_ERROR_NAME.invokeExact(result, p) != 0) {
        return "unknown CUresult";
      }
      return p.get(ADDRESS, 0).reinterpret(256).getString(0);
    } catch (Throwable t) {
      return "unknown CUresult";
    }
  }

  /** {@code t} as a CudaException naming {@code call} (itself when it is one); cuBLAS uses it too. */
  static CudaException wrap(String call, Throwable t) {
    if (t instanceof CudaException e) {
      return e;
    }
    CudaException e = new CudaException(call + " could not be called: " + t);
    e.initCause(t);
    return e;
  }

  /** cuInit(0); returns the raw CUresult so the availability probe can report it. */
  static int init() {
    try {
      return (int) INIT.invokeExact(0);
    } catch (Throwable t) {
      throw wrap("cuInit", t);
    }
  }

  static int driverVersion() {
    return intOut("cuDriverGetVersion", p -> (int) DRIVER_VERSION.invokeExact(p));
  }

  static int deviceCount() {
    return intOut("cuDeviceGetCount", p -> (int) DEVICE_COUNT.invokeExact(p));
  }

  static int device(int ordinal) {
    return intOut("cuDeviceGet", p -> (int) DEVICE_GET.invokeExact(p, ordinal));
  }

  static int attribute(int device, int attribute) {
    return intOut("cuDeviceGetAttribute", p -> (int) DEVICE_ATTRIBUTE.invokeExact(p, attribute, device));
  }

  static String deviceName(int device) {
    return stringOut("cuDeviceGetName", 256, p -> (int) DEVICE_NAME.invokeExact(p, 256, device));
  }

  /** The device's PCI address, "domain:bus:device.function" in hex, e.g. 0000:1b:00.0. */
  static String pciBusId(int device) {
    return stringOut("cuDeviceGetPCIBusId", 64,
        p -> (int) DEVICE_PCI_BUS_ID.invokeExact(p, 64, device));
  }

  static MemorySegment primaryContext(int device) {
    return addressOut("cuDevicePrimaryCtxRetain", p -> (int) PRIMARY_CTX_RETAIN.invokeExact(p, device));
  }

  static void setCurrent(MemorySegment context) {
    try {
      check("cuCtxSetCurrent", (int) CTX_SET_CURRENT.invokeExact(context));
    } catch (Throwable t) {
      throw wrap("cuCtxSetCurrent", t);
    }
  }

  static long memAlloc(long bytes) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = arena.allocate(JAVA_LONG);
      check("cuMemAlloc_v2(" + bytes + " bytes)", (int) MEM_ALLOC.invokeExact(p, bytes));
      return p.get(JAVA_LONG, 0);
    } catch (Throwable t) {
      throw wrap("cuMemAlloc_v2", t);
    }
  }

  static void memFree(long ptr) {
    try {
      check("cuMemFree_v2", (int) MEM_FREE.invokeExact(ptr));
    } catch (Throwable t) {
      throw wrap("cuMemFree_v2", t);
    }
  }

  static void copyHtoD(long dst, MemorySegment src, long bytes, MemorySegment stream) {
    try {
      check("cuMemcpyHtoDAsync_v2", (int) HTOD.invokeExact(dst, src, bytes, stream));
    } catch (Throwable t) {
      throw wrap("cuMemcpyHtoDAsync_v2", t);
    }
  }

  static void copyDtoH(MemorySegment dst, long src, long bytes, MemorySegment stream) {
    try {
      check("cuMemcpyDtoHAsync_v2", (int) DTOH.invokeExact(dst, src, bytes, stream));
    } catch (Throwable t) {
      throw wrap("cuMemcpyDtoHAsync_v2", t);
    }
  }

  static void copyDtoD(long dst, long src, long bytes, MemorySegment stream) {
    try {
      check("cuMemcpyDtoDAsync_v2", (int) DTOD.invokeExact(dst, src, bytes, stream));
    } catch (Throwable t) {
      throw wrap("cuMemcpyDtoDAsync_v2", t);
    }
  }

  static void memsetD32(long dst, int value, long words, MemorySegment stream) {
    try {
      check("cuMemsetD32Async", (int) MEMSET_D32.invokeExact(dst, value, words, stream));
    } catch (Throwable t) {
      throw wrap("cuMemsetD32Async", t);
    }
  }

  static MemorySegment loadModule(MemorySegment image) {
    return addressOut("cuModuleLoadData", p -> (int) MODULE_LOAD_DATA.invokeExact(p, image));
  }

  static MemorySegment function(MemorySegment module, String name) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment cname = arena.allocateFrom(name);
      return addressOut("cuModuleGetFunction(" + name + ")",
          p -> (int) MODULE_GET_FUNCTION.invokeExact(p, module, cname));
    }
  }

  static void setMaxDynamicSharedMemory(MemorySegment function, int bytes) {
    try {
      check("cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)",
          (int) FUNC_SET_ATTRIBUTE.invokeExact(function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
    } catch (Throwable t) {
      throw wrap("cuFuncSetAttribute", t);
    }
  }

  /**
   * Queues {@code function} on {@code stream}; {@code params} is a {@code void*[]} of argument
   * addresses. The error message is built only on failure: this is the decode loop's hot path.
   */
  static void launch(String name, MemorySegment function, int gx, int gy, int gz, int bx, int by,
      int bz, int sharedBytes, MemorySegment stream, MemorySegment params) {
    int result;
    try {
      result = (int) LAUNCH.invokeExact(function, gx, gy, gz, bx, by, bz, sharedBytes, stream,
          params, MemorySegment.NULL);
    } catch (Throwable t) {
      throw wrap("cuLaunchKernel(" + name + ")", t);
    }
    if (result != 0) {
      check("cuLaunchKernel(" + name + ", grid " + gx + "x" + gy + "x" + gz + ", block " + bx
          + ", smem " + sharedBytes + ")", result);
    }
  }

  static boolean hasLaunchEx() {
    return LAUNCH_EX != null;
  }

  static boolean hasClusters() {
    return LAUNCH_EX != null && MAX_ACTIVE_CLUSTERS != null;
  }

  /**
   * As {@link #launch}, through cuLaunchKernelEx: with {@code programmatic}, programmatic stream
   * serialization (the kernel may start before the previous one on the stream has finished, and
   * must call {@code griddepcontrol.wait}, native/mla4j_device.h, before it reads that kernel's
   * output); with {@code cluster} > 1, thread-block clusters of that many consecutive CTAs along
   * x (gx a multiple of it).
   */
  static void launchEx(String name, MemorySegment function, int gx, int gy, int gz, int bx,
      int sharedBytes, MemorySegment stream, MemorySegment params, boolean programmatic,
      int cluster, SegmentAllocator scratch) {
    int result;
    try {
      MemorySegment config = launchConfig(scratch, gx, gy, gz, bx, sharedBytes, stream,
          programmatic, cluster);
      result = (int) LAUNCH_EX.invokeExact(config, function, params, MemorySegment.NULL);
    } catch (Throwable t) {
      throw wrap(launchExCall(name, gx, gy, gz, bx, sharedBytes, programmatic, cluster), t);
    }
    if (result != 0) {
      check(launchExCall(name, gx, gy, gz, bx, sharedBytes, programmatic, cluster), result);
    }
  }

  private static String launchExCall(String name, int gx, int gy, int gz, int bx,
      int sharedBytes, boolean programmatic, int cluster) {
    return "cuLaunchKernelEx(" + name + ", grid " + gx + "x" + gy + "x" + gz + ", block " + bx
        + ", smem " + sharedBytes + (programmatic ? ", programmatic serialization" : "")
        + (cluster > 1 ? ", clusters of " + cluster : "") + ")";
  }

  /**
   * How many clusters of {@code cluster} CTAs of {@code function} the device runs at once (0: it
   * cannot run one, e.g. for lack of shared memory in a GPC).
   */
  static int maxActiveClusters(MemorySegment function, int bx, int sharedBytes, int cluster) {
    try (Arena tmp = Arena.ofConfined()) {
      MemorySegment config = launchConfig(tmp, cluster, 1, 1, bx, sharedBytes,
          MemorySegment.NULL, false, cluster);
      return intOut("cuOccupancyMaxActiveClusters",
          p -> (int) MAX_ACTIVE_CLUSTERS.invokeExact(p, function, config));
    }
  }

  private static MemorySegment launchConfig(SegmentAllocator tmp, int gx, int gy, int gz, int bx,
      int sharedBytes, MemorySegment stream, boolean programmatic, int cluster) {
    int count = (programmatic ? 1 : 0) + (cluster > 1 ? 1 : 0);
    // a launch's scratch is reused, not zeroed as an arena's allocation is
    MemorySegment attrs = tmp.allocate(LAUNCH_ATTRIBUTE_BYTES * Math.max(1, count), 8)
        .fill((byte) 0);
    long at = 0;
    if (programmatic) {
      attrs.set(JAVA_INT, at, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
      attrs.set(JAVA_INT, at + 8, 1);  // programmaticStreamSerializationAllowed
      at += LAUNCH_ATTRIBUTE_BYTES;
    }
    if (cluster > 1) {
      attrs.set(JAVA_INT, at, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION);
      attrs.set(JAVA_INT, at + 8, cluster);  // clusterDim {x, y, z}
      attrs.set(JAVA_INT, at + 12, 1);
      attrs.set(JAVA_INT, at + 16, 1);
    }
    MemorySegment config = tmp.allocate(LAUNCH_CONFIG).fill((byte) 0);
    int[] dims = {gx, gy, gz, bx, 1, 1, sharedBytes};
    for (int i = 0; i < dims.length; i++) {
      config.setAtIndex(JAVA_INT, i, dims[i]);
    }
    config.set(ADDRESS, CONFIG_STREAM, stream);
    config.set(ADDRESS, CONFIG_ATTRS, attrs);
    config.set(JAVA_INT, CONFIG_COUNT, count);
    return config;
  }

  static MemorySegment createStream() {
    return addressOut("cuStreamCreate", p -> (int) STREAM_CREATE.invokeExact(p, 0));
  }

  static void destroyStream(MemorySegment stream) {
    call("cuStreamDestroy_v2", () -> (int) STREAM_DESTROY.invokeExact(stream));
  }

  static void synchronize(MemorySegment stream) {
    call("cuStreamSynchronize", () -> (int) STREAM_SYNCHRONIZE.invokeExact(stream));
  }

  static MemorySegment createEvent() {
    return addressOut("cuEventCreate", p -> (int) EVENT_CREATE.invokeExact(p, 0));
  }

  static void destroyEvent(MemorySegment event) {
    call("cuEventDestroy_v2", () -> (int) EVENT_DESTROY.invokeExact(event));
  }

  static void record(MemorySegment event, MemorySegment stream) {
    call("cuEventRecord", () -> (int) EVENT_RECORD.invokeExact(event, stream));
  }

  static void synchronizeEvent(MemorySegment event) {
    call("cuEventSynchronize", () -> (int) EVENT_SYNCHRONIZE.invokeExact(event));
  }

  static float elapsedMillis(MemorySegment start, MemorySegment end) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = arena.allocate(JAVA_FLOAT);
      check("cuEventElapsedTime", (int) EVENT_ELAPSED.invokeExact(p, start, end));
      return p.get(JAVA_FLOAT, 0);
    } catch (Throwable t) {
      throw wrap("cuEventElapsedTime", t);
    }
  }

  private interface RawCall {
    int run() throws Throwable;
  }

  private interface OutCall {
    int run(MemorySegment out) throws Throwable;
  }

  private static void call(String name, RawCall c) {
    try {
      check(name, c.run());
    } catch (Throwable t) {
      throw wrap(name, t);
    }
  }

  private static int intOut(String name, OutCall c) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = arena.allocate(JAVA_INT);
      check(name, c.run(p));
      return p.get(JAVA_INT, 0);
    } catch (Throwable t) {
      throw wrap(name, t);
    }
  }

  /** A NUL-terminated string the call writes into {@code capacity} bytes. */
  private static String stringOut(String name, int capacity, OutCall c) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = arena.allocate(capacity);
      check(name, c.run(p));
      return p.getString(0);
    } catch (Throwable t) {
      throw wrap(name, t);
    }
  }

  private static MemorySegment addressOut(String name, OutCall c) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = arena.allocate(ADDRESS);
      check(name, c.run(p));
      return p.get(ADDRESS, 0);
    } catch (Throwable t) {
      throw wrap(name, t);
    }
  }
}
