package dev.mla4j.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Device 0's primary context with mla4j's kernels loaded: one per process, created on first use
 * and kept for the life of the process. Kernels come from the fatbins the build packed into the
 * jar; where there are none (built without nvcc) the bundled sources are compiled by NVRTC.
 * {@code -Dmla4j.cuda.nvrtc=true} forces NVRTC, to test that path on a machine with fatbins.
 * {@code -Dmla4j.cuda.pdl=false} launches the split merge without programmatic dependent launch.
 */
public final class CudaContext {
  /** Forces run-time compilation of the bundled sources even when fatbins are present. */
  public static final String NVRTC_PROPERTY = "mla4j.cuda.nvrtc";
  /** {@code false} turns off programmatic dependent launch of the split merge (for comparisons). */
  public static final String PDL_PROPERTY = "mla4j.cuda.pdl";
  private static final String RESOURCES = "/dev/mla4j/cuda/native/";
  private static final List<String> HEADERS = List.of("mla4j_params.h", "mla4j_device.h",
      "mla4j_cluster.h", "mla4j_quant.h", "mla4j_mma.h", "mla4j_mma_quant.h", "mla4j_mla_mma.h",
      "mla4j_wgmma.h", "mla4j_mla_wgmma.h");
  private static final List<String> MLA_MMA_SHAPES = List.of("_m1_l8", "_m2_l8", "_m4_l8",
      "_m1_l16", "_m2_l16", "_m1_l32");
  private static final List<String> MLA_MMA_TILES = List.of("_t16", "_t32", "_t64");
  private static final Map<String, List<String>> MODULES = Map.ofEntries(
      Map.entry("attention", List.of("mla4j_paged_attention_f32", "mla4j_paged_attention_bf16",
          "mla4j_paged_attention_f16", "mla4j_paged_attention_f32_q",
          "mla4j_paged_attention_bf16_q", "mla4j_paged_attention_f16_q", "mla4j_merge_splits",
          "mla4j_merge_few_splits")),
      Map.entry("quantize", List.of("mla4j_append_plain", "mla4j_append_quantized",
          "mla4j_append_quantized_sw")),
      Map.entry("rope", List.of("mla4j_rope", "mla4j_fill_random")),
      Map.entry("read_peak", List.of("mla4j_read_peak")),
      Map.entry("linear", List.of("mla4j_linear_f32", "mla4j_linear_bf16", "mla4j_linear_f16",
          "mla4j_linear_t_f32", "mla4j_linear_t_bf16", "mla4j_linear_t_f16", "mla4j_round_bf16",
          "mla4j_round_f16")),
      Map.entry("mha_decode", java.util.stream.Stream.concat(instances("mla4j_mha_decode_",
          List.of("bf16", "f16", "int8", "fp8", "int4"),
          List.of("_d64", "_d128"), List.of("_g1", "_g2", "_g3", "_g4", "_g8")).stream(),
          instances("mla4j_mha_decode_", List.of("int8_w16", "fp8_w16", "int4_w16"),
              List.of("_d64", "_d128"), List.of("_g1", "_g2")).stream()).toList()),
      Map.entry("mla_expand", List.of("mla4j_mla_expand_gather")),
      Map.entry("mha_prefill", instances("mla4j_mha_prefill_", List.of("bf16", "f16"),
          List.of("_d64", "_d128", "_d192_v128"), List.of(""))),
      Map.entry("mla_mma", java.util.stream.Stream.concat(instances("mla4j_mla_mma_bf16",
          MLA_MMA_SHAPES, MLA_MMA_TILES, List.of("")).stream(),
          java.util.stream.Stream.of("mla4j_mma_peak_bf16")).toList()),
      Map.entry("mla_mma_quant", instances("mla4j_mla_mma_", List.of("int8", "fp8"),
          MLA_MMA_SHAPES, MLA_MMA_TILES)),
      Map.entry("mla_mma_quant_rope", instances("mla4j_mla_mma_",
          List.of("int8_qrope", "fp8_qrope"), MLA_MMA_SHAPES, MLA_MMA_TILES)),
      Map.entry("mla_mma_quant_int4", instances("mla4j_mla_mma_", List.of("int4", "int4_qrope"),
          MLA_MMA_SHAPES, MLA_MMA_TILES)),
      Map.entry("mla_mma_quant_rope8", instances("mla4j_mla_mma_",
          List.of("int8_qrope8", "fp8_qrope8", "int4_qrope8"), MLA_MMA_SHAPES, MLA_MMA_TILES)));

  /**
   * Modules built for one architecture only (native/build.sh), loaded where the device is that
   * architecture: {@code mla_wgmma} and {@code mla_wgmma_quant} use Hopper's wgmma, which exists
   * on sm_90a alone.
   */
  private static final Map<String, List<String>> SM90A_MODULES = Map.of(
      "mla_wgmma", List.of("mla4j_mla_wgmma_bf16_h64_l512_r64", "mla4j_wgmma_peak_bf16"),
      "mla_wgmma_quant", List.of("mla4j_mla_wgmma_int8_h64_l512_r64",
          "mla4j_mla_wgmma_fp8_h64_l512_r64", "mla4j_mla_wgmma_int4_h64_l512_r64",
          "mla4j_mla_wgmma_int8_qrope_h64_l512_r64", "mla4j_mla_wgmma_fp8_qrope_h64_l512_r64",
          "mla4j_mla_wgmma_int4_qrope_h64_l512_r64"));

  /** Every prefix + a + b + c: the names of a template's instances. */
  private static List<String> instances(String prefix, List<String> as, List<String> bs,
      List<String> cs) {
    List<String> names = new java.util.ArrayList<>();
    for (String a : as) {
      for (String b : bs) {
        for (String c : cs) {
          names.add(prefix + a + b + c);
        }
      }
    }
    return List.copyOf(names);
  }

  private static CudaContext instance;
  private static String failure;

  private final int device;
  private final String deviceName;
  private final int computeCapability;
  private final int multiprocessors;
  private final int sharedMemoryOptin;
  private final long l2Bytes;
  private final int threadsPerMultiprocessor;
  private final MemorySegment context;
  private final String kernelSource;
  private final boolean wgmma;
  private final boolean programmaticLaunch;
  private final Map<String, MemorySegment> functions = new HashMap<>();
  private final Arena arena = Arena.ofShared();

  private CudaContext() {
    this.device = CudaDriver.device(0);
    this.deviceName = CudaDriver.deviceName(device);
    this.computeCapability =
        10 * CudaDriver.attribute(device, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
            + CudaDriver.attribute(device, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    this.multiprocessors = CudaDriver.attribute(device, CudaDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    this.sharedMemoryOptin =
        CudaDriver.attribute(device, CudaDriver.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    this.l2Bytes = CudaDriver.attribute(device, CudaDriver.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
    this.threadsPerMultiprocessor =
        CudaDriver.attribute(device, CudaDriver.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
    this.context = CudaDriver.primaryContext(device);
    makeCurrent();
    boolean forceNvrtc = Boolean.getBoolean(NVRTC_PROPERTY);
    boolean fatbins = !forceNvrtc && MODULES.keySet().stream()
        .allMatch(m -> CudaContext.class.getResource(RESOURCES + m + ".fatbin") != null);
    this.kernelSource = fatbins ? "fatbin" : "NVRTC compute_" + computeCapability;
    Map<String, List<String>> modules = new LinkedHashMap<>(MODULES);
    this.wgmma = computeCapability == 90;
    this.programmaticLaunch = computeCapability >= 90 && CudaDriver.hasLaunchEx()
        && !"false".equals(System.getProperty(PDL_PROPERTY));
    if (wgmma) {
      modules.putAll(SM90A_MODULES);
    }
    for (Map.Entry<String, List<String>> m : modules.entrySet()) {
      String arch = SM90A_MODULES.containsKey(m.getKey()) ? "compute_90a"
          : "compute_" + computeCapability;
      MemorySegment module = CudaDriver.loadModule(fatbins ? resource(m.getKey() + ".fatbin")
          : compile(m.getKey(), arch));
      for (String name : m.getValue()) {
        functions.put(name, CudaDriver.function(module, name));
      }
    }
  }

  /** Whether the sm_90a kernels (wgmma: native/mla_wgmma.cu) are loaded: an sm_90 device. */
  public boolean hasWgmma() {
    return wgmma;
  }

  /** Empty when the CUDA backend can run here; otherwise why not (probed once). */
  public static synchronized Optional<String> unavailableReason() {
    if (instance == null && failure == null) {
      failure = probe();
    }
    return Optional.ofNullable(failure);
  }

  private static String probe() {
    Optional<String> load = CudaDriver.loadFailure();
    if (load.isPresent()) {
      return load.get();
    }
    try {
      int init = CudaDriver.init();
      if (init == CudaDriver.CUDA_ERROR_NO_DEVICE) {
        return "no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)";
      }
      CudaDriver.check("cuInit", init);
      if (CudaDriver.deviceCount() == 0) {
        return "no CUDA device (cuDeviceGetCount = 0)";
      }
      instance = new CudaContext();
      return null;
    } catch (CudaException | IllegalStateException e) {
      return e.getMessage();
    }
  }

  /** The process's context; throws {@link IllegalStateException} with the reason if unavailable. */
  public static synchronized CudaContext get() {
    Optional<String> why = unavailableReason();
    if (why.isPresent()) {
      throw new IllegalStateException("CUDA backend unavailable: " + why.get());
    }
    return instance;
  }

  private MemorySegment resource(String name) {
    try (InputStream in = CudaContext.class.getResourceAsStream(RESOURCES + name)) {
      if (in == null) {
        throw new IllegalStateException("kernel resource " + name + " missing from the jar");
      }
      byte[] bytes = in.readAllBytes();
      MemorySegment image = arena.allocate(bytes.length + 1L, 8);
      MemorySegment.copy(MemorySegment.ofArray(bytes), 0, image, 0, bytes.length);
      return image;
    } catch (IOException e) {
      throw new IllegalStateException("cannot read kernel resource " + name + ": " + e, e);
    }
  }

  private MemorySegment compile(String module, String arch) {
    Map<String, String> headers = new LinkedHashMap<>();
    for (String h : HEADERS) {
      headers.put(h, text(h));
    }
    return Nvrtc.compile(arena, module + ".cu", text(module + ".cu"), headers, arch);
  }

  private static String text(String name) {
    try (InputStream in = CudaContext.class.getResourceAsStream(RESOURCES + name)) {
      if (in == null) {
        throw new IllegalStateException("no fatbin and no CUDA source " + name + " in the jar");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read CUDA source " + name + ": " + e, e);
    }
  }

  /** Binds this context to the calling thread (the driver's current context is per thread). */
  void makeCurrent() {
    CudaDriver.setCurrent(context);
  }

  MemorySegment function(String name) {
    MemorySegment f = functions.get(name);
    if (f == null) {
      throw new IllegalStateException("kernel " + name + " is not declared by any loaded module");
    }
    return f;
  }

  /** Queues kernel {@code name} with one by-value struct argument, {@code params}. */
  void launch(String name, int gx, int gy, int gz, int threads, int sharedBytes, CudaStream stream,
      MemorySegment params) {
    queue(name, gx, gy, gz, threads, sharedBytes, stream, params, false, 1);
  }

  /**
   * As {@link #launch}, for a kernel that calls {@code grid_dependency_wait()} before reading what
   * the previous kernel on the stream wrote (the split merge): on sm_90 and later it is queued
   * with programmatic stream serialization, so that its launch overlaps that kernel's tail.
   * {@code -Dmla4j.cuda.pdl=false} queues it plainly.
   */
  void launchDependent(String name, int gx, int gy, int gz, int threads, int sharedBytes,
      CudaStream stream, MemorySegment params) {
    queue(name, gx, gy, gz, threads, sharedBytes, stream, params, programmaticLaunch, 1);
  }

  /**
   * As {@link #launch}, in thread-block clusters of {@code cluster} consecutive CTAs along x (gx a
   * multiple of it; see {@link #maxActiveClusters}).
   */
  void launchClustered(String name, int gx, int gy, int gz, int threads, int sharedBytes,
      CudaStream stream, MemorySegment params, int cluster) {
    queue(name, gx, gy, gz, threads, sharedBytes, stream, params, false, cluster);
  }

  /**
   * Clusters of {@code cluster} CTAs of kernel {@code name} (threads, dynamic shared memory as
   * launched) that the device runs at once; 0 where it has no clusters (below sm_90, or a driver
   * without cuOccupancyMaxActiveClusters) or cannot place one.
   */
  int maxActiveClusters(String name, int threads, int sharedBytes, int cluster) {
    if (computeCapability() < 90 || !CudaDriver.hasClusters()) {
      return 0;
    }
    makeCurrent();
    return CudaDriver.maxActiveClusters(function(name), threads, sharedBytes, cluster);
  }

  private void queue(String name, int gx, int gy, int gz, int threads, int sharedBytes,
      CudaStream stream, MemorySegment params, boolean programmatic, int cluster) {
    // the driver copies the argument array and the launch config at the call, so each thread
    // reuses one scratch segment instead of opening an arena per launch
    SegmentAllocator scratch = SegmentAllocator.slicingAllocator(LAUNCH_SCRATCH.get());
    MemorySegment args = scratch.allocate(ADDRESS);
    args.set(ADDRESS, 0, params);
    makeCurrent();
    if (programmatic || cluster > 1) {
      CudaDriver.launchEx(name, function(name), gx, gy, gz, threads, sharedBytes,
          stream.handle(), args, programmatic, cluster, scratch);
    } else {
      CudaDriver.launch(name, function(name), gx, gy, gz, threads, 1, 1, sharedBytes,
          stream.handle(), args);
    }
  }

  /** Room for a launch's argument array, config and two attributes (CudaDriver.launchConfig). */
  private static final long LAUNCH_SCRATCH_BYTES = 512;

  private static final ThreadLocal<MemorySegment> LAUNCH_SCRATCH =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(LAUNCH_SCRATCH_BYTES, 16));

  /** Raises a kernel's dynamic shared-memory limit (needed above 48 KB). */
  void allowSharedMemory(String name, int bytes) {
    makeCurrent();
    CudaDriver.setMaxDynamicSharedMemory(function(name), bytes);
  }

  public DeviceBuffer allocate(long bytes) {
    return new DeviceBuffer(this, bytes);
  }

  public CudaStream newStream() {
    return new CudaStream(this);
  }

  public CudaEvent newEvent() {
    return new CudaEvent(this);
  }

  public String deviceName() {
    return deviceName;
  }

  /**
   * The device's PCI address ("0000:1b:00.0"): what tools outside CUDA (NVML, nvidia-smi) name it
   * by, since their device indices need not follow CUDA's ordinals.
   */
  public String pciBusId() {
    return CudaDriver.pciBusId(device);
  }

  /** e.g. 90 for sm_90. */
  public int computeCapability() {
    return computeCapability;
  }

  public int multiprocessors() {
    return multiprocessors;
  }

  public int sharedMemoryOptin() {
    return sharedMemoryOptin;
  }

  public long l2Bytes() {
    return l2Bytes;
  }

  /** Resident threads per SM at full occupancy: 2048 on sm_80/sm_90, 1536 on sm_89. */
  public int threadsPerMultiprocessor() {
    return threadsPerMultiprocessor;
  }

  /** {@code fatbin} or {@code NVRTC compute_XY}. */
  public String kernelSource() {
    return kernelSource;
  }

  public String describe() {
    return deviceName + " (sm_" + computeCapability + ", " + multiprocessors + " SMs, kernels from "
        + kernelSource + ", driver " + CudaDriver.driverVersion() + ")";
  }
}
