package dev.mla4j.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Run-time compilation of the bundled {@code .cu} sources to PTX through NVRTC (libnvrtc), used
 * where the jar carries no fatbin (built without nvcc). Handles are built once on first use.
 */
final class Nvrtc {
  private static final List<String> NAMES = List.of("libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12");
  private static String loadFailure;
  private static final SymbolLookup LIB = load();
  private static final Linker LINKER = Linker.nativeLinker();

  private static final MethodHandle CREATE = handle("nvrtcCreateProgram", FunctionDescriptor.of(
      JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle COMPILE = handle("nvrtcCompileProgram",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
  private static final MethodHandle PTX_SIZE = handle("nvrtcGetPTXSize",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle PTX = handle("nvrtcGetPTX",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle LOG_SIZE = handle("nvrtcGetProgramLogSize",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle LOG = handle("nvrtcGetProgramLog",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle DESTROY = handle("nvrtcDestroyProgram",
      FunctionDescriptor.of(JAVA_INT, ADDRESS));

  private Nvrtc() {}

  private static SymbolLookup load() {
    StringBuilder tried = new StringBuilder();
    for (String name : NAMES) {
      try {
        return SymbolLookup.libraryLookup(name, Arena.global());
      } catch (IllegalArgumentException e) {
        tried.append(tried.isEmpty() ? "" : ", ").append(name);
      }
    }
    loadFailure = "no NVRTC library found (tried " + tried + ")";
    return null;
  }

  private static MethodHandle handle(String name, FunctionDescriptor fd) {
    if (LIB == null) {
      return null;
    }
    Optional<MemorySegment> s = LIB.find(name);
    if (s.isEmpty()) {
      loadFailure = "NVRTC library has no symbol " + name;
      return null;
    }
    return LINKER.downcallHandle(s.get(), fd);
  }

  static Optional<String> unavailableReason() {
    return Optional.ofNullable(loadFailure);
  }

  /**
   * Compiles {@code source} (named {@code name}) with the given headers (name to text) for
   * {@code arch} (a virtual architecture: {@code compute_90}, or {@code compute_90a} for
   * sm_90a-only instructions); returns NUL-terminated PTX in {@code arena}.
   */
  static MemorySegment compile(Arena arena, String name, String source, Map<String, String> headers,
      String arch) {
    if (loadFailure != null) {
      throw new CudaException(loadFailure);
    }
    try (Arena tmp = Arena.ofConfined()) {
      MemorySegment prog = tmp.allocate(ADDRESS);
      MemorySegment headerTexts = tmp.allocate(ADDRESS, Math.max(1, headers.size()));
      MemorySegment headerNames = tmp.allocate(ADDRESS, Math.max(1, headers.size()));
      int i = 0;
      for (Map.Entry<String, String> h : headers.entrySet()) {
        headerTexts.setAtIndex(ADDRESS, i, tmp.allocateFrom(h.getValue()));
        headerNames.setAtIndex(ADDRESS, i, tmp.allocateFrom(h.getKey()));
        i++;
      }
      check("nvrtcCreateProgram(" + name + ")", (int) CREATE.invokeExact(prog,
          tmp.allocateFrom(source), tmp.allocateFrom(name), headers.size(), headerTexts, headerNames));
      MemorySegment program = prog.get(ADDRESS, 0);
      try {
        String[] options = {"--gpu-architecture=" + arch, "-std=c++17"};
        MemorySegment opts = tmp.allocate(ADDRESS, options.length);
        for (int o = 0; o < options.length; o++) {
          opts.setAtIndex(ADDRESS, o, tmp.allocateFrom(options[o]));
        }
        int result = (int) COMPILE.invokeExact(program, options.length, opts);
        if (result != 0) {
          throw new CudaException("nvrtcCompileProgram(" + name + ") failed (nvrtcResult " + result
              + "):\n" + log(tmp, program));
        }
        MemorySegment size = tmp.allocate(JAVA_LONG);
        check("nvrtcGetPTXSize", (int) PTX_SIZE.invokeExact(program, size));
        MemorySegment ptx = arena.allocate(size.get(JAVA_LONG, 0) + 1);
        check("nvrtcGetPTX", (int) PTX.invokeExact(program, ptx));
        return ptx;
      } finally {
        int ignored = (int) DESTROY.invokeExact(prog);
        assert ignored == 0 : "nvrtcDestroyProgram failed: " + ignored;
      }
    } catch (CudaException e) {
      throw e;
    } catch (Throwable t) {
      throw new CudaException("NVRTC call failed: " + t);
    }
  }

  private static String log(Arena tmp, MemorySegment program) throws Throwable {
    MemorySegment size = tmp.allocate(JAVA_LONG);
    if ((int) LOG_SIZE.invokeExact(program, size) != 0) {
      return "(no log)";
    }
    MemorySegment text = tmp.allocate(size.get(JAVA_LONG, 0) + 1);
    if ((int) LOG.invokeExact(program, text) != 0) {
      return "(no log)";
    }
    return text.getString(0);
  }

  private static void check(String call, int result) {
    if (result != 0) {
      throw new CudaException(call + " failed: nvrtcResult " + result);
    }
  }
}
