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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Downcalls into cuBLAS (libcublas), built once: the few calls the projection GEMM needs.
 * Versioned {@code _v2} symbols are used where they exist. Every call goes through {@link #check},
 * which turns a cublasStatus_t other than CUBLAS_STATUS_SUCCESS into a {@link CudaException}
 * naming the call and the status. When no library loads, {@link #unavailableReason()} says why
 * and {@link DeviceLinear} runs linear.cu instead.
 *
 * <p>Where it looks: the sonames {@link #NAMES} through the dynamic loader (LD_LIBRARY_PATH,
 * ldconfig), then the same names in the CUDA toolkit's library folders ({@code $CUDA_HOME},
 * {@code $CUDA_PATH}, {@code /usr/local/cuda}), so a toolkit install needs no setup.
 */
final class Cublas {
  /** Sonames tried in order: CUDA 13, CUDA 12, the unversioned development link. */
  static final List<String> NAMES = List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so");

  // cublasOperation_t
  static final int OP_N = 0;
  static final int OP_T = 1;
  // cudaDataType_t
  static final int CUDA_R_32F = 0;
  static final int CUDA_R_16F = 2;
  static final int CUDA_R_16BF = 14;
  // cublasComputeType_t: F32 accumulation; with the default math mode F32 inputs stay F32 (no TF32)
  static final int COMPUTE_32F = 68;
  // cublasGemmAlgo_t: let cuBLAS's heuristics pick (tensor cores where the types allow)
  static final int GEMM_DEFAULT = -1;

  /** The library found, or why none was. */
  record Load(SymbolLookup lookup, String path, String failure) {}

  private static final Linker LINKER = Linker.nativeLinker();
  private static final Load LOAD = load(NAMES, toolkitDirs());
  private static String symbolFailure;

  private static final MethodHandle CREATE = handle("cublasCreate_v2",
      FunctionDescriptor.of(JAVA_INT, ADDRESS));
  private static final MethodHandle DESTROY = handle("cublasDestroy_v2",
      FunctionDescriptor.of(JAVA_INT, ADDRESS));
  private static final MethodHandle SET_STREAM = handle("cublasSetStream_v2",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle GET_VERSION = handle("cublasGetVersion_v2",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle GEMM_EX = handle("cublasGemmEx", FunctionDescriptor.of(JAVA_INT,
      ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, // handle, transa, transb, m, n, k
      ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,                      // alpha, A, Atype, lda
      ADDRESS, JAVA_INT, JAVA_INT,                               // B, Btype, ldb
      ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,                      // beta, C, Ctype, ldc
      JAVA_INT, JAVA_INT));                                      // computeType, algo
  private static final MethodHandle GEMM_STRIDED_BATCHED_EX = handle("cublasGemmStridedBatchedEx",
      FunctionDescriptor.of(JAVA_INT,
          ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, // handle, transa, transb, m, n, k
          ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG,          // alpha, A, Atype, lda, strideA
          ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG,                   // B, Btype, ldb, strideB
          ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG,          // beta, C, Ctype, ldc, strideC
          JAVA_INT, JAVA_INT, JAVA_INT));                           // batchCount, computeType, algo

  private Cublas() {}

  /** The toolkit's library folders that exist here, from the environment and the usual places. */
  static List<Path> toolkitDirs() {
    Set<Path> roots = new LinkedHashSet<>();
    for (String env : List.of("CUDA_HOME", "CUDA_PATH")) {
      String v = System.getenv(env);
      if (v != null && !v.isBlank()) {
        roots.add(Path.of(v));
      }
    }
    roots.add(Path.of("/usr/local/cuda"));
    String arch = System.getProperty("os.arch").equals("aarch64") ? "sbsa-linux" : "x86_64-linux";
    List<Path> dirs = new ArrayList<>();
    for (Path root : roots) {
      for (Path d : List.of(root.resolve("lib64"), root.resolve("targets/" + arch + "/lib"))) {
        if (Files.isDirectory(d)) {
          dirs.add(d);
        }
      }
    }
    return dirs;
  }

  /**
   * The first of {@code names} that loads, by soname, then from each of {@code dirs}; a failure
   * listing everything tried when none does. Loading from a folder first loads the libcublasLt of
   * the same folder (libcublas needs it and the loader may not search that folder).
   */
  static Load load(List<String> names, List<Path> dirs) {
    List<String> tried = new ArrayList<>();
    for (String name : names) {
      Optional<SymbolLookup> lib = open(name);
      if (lib.isPresent()) {
        return new Load(lib.get(), name, null);
      }
      tried.add(name);
    }
    for (Path dir : dirs) {
      for (String name : names) {
        Path path = dir.resolve(name);
        if (!Files.exists(path)) {
          continue;
        }
        Path lt = dir.resolve(name.replace("libcublas", "libcublasLt"));
        if (Files.exists(lt)) {
          open(lt.toString());
        }
        Optional<SymbolLookup> lib = open(path.toString());
        if (lib.isPresent()) {
          return new Load(lib.get(), path.toString(), null);
        }
        tried.add(path.toString());
      }
    }
    return new Load(null, null, "no cuBLAS library found (tried " + String.join(", ", tried)
        + (dirs.isEmpty() ? "; no CUDA toolkit folder found" : "; searched " + dirs) + "); "
        + "install the CUDA toolkit's libcublas or put its folder on LD_LIBRARY_PATH");
  }

  private static Optional<SymbolLookup> open(String nameOrPath) {
    try {
      return Optional.of(SymbolLookup.libraryLookup(nameOrPath, Arena.global()));
    } catch (IllegalArgumentException | IllegalCallerException e) {
      return Optional.empty();
    }
  }

  /** Null when the library or the symbol is missing; {@link #unavailableReason()} then says why. */
  private static MethodHandle handle(String name, FunctionDescriptor fd) {
    if (LOAD.lookup() == null) {
      return null;
    }
    Optional<MemorySegment> symbol = LOAD.lookup().find(name);
    if (symbol.isEmpty()) {
      if (symbolFailure == null) {
        symbolFailure = LOAD.path() + " has no symbol " + name + " (cuBLAS older than 11?)";
      }
      return null;
    }
    return LINKER.downcallHandle(symbol.get(), fd);
  }

  /** Empty when libcublas and every symbol used here were found, otherwise why not. */
  static Optional<String> unavailableReason() {
    return Optional.ofNullable(LOAD.failure() != null ? LOAD.failure() : symbolFailure);
  }

  /** Where the library was loaded from (a soname or a path); null when it was not. */
  static String loadedFrom() {
    return LOAD.path();
  }

  /** Throws {@link CudaException} naming {@code call} unless {@code status} is SUCCESS. */
  static void check(String call, int status) {
    if (status != 0) {
      throw new CudaException(call + " failed: " + statusName(status) + " (cublasStatus_t "
          + status + ")");
    }
  }

  /** The cublasStatus_t's name, from cublas_api.h (stable since CUDA 6). */
  static String statusName(int status) {
    return switch (status) {
      case 0 -> "CUBLAS_STATUS_SUCCESS";
      case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
      case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
      case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
      case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
      case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
      case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
      case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
      case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
      case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
      default -> "unknown cublasStatus_t";
    };
  }

  /** A new handle (cublasCreate_v2) in the calling thread's current context. */
  static MemorySegment create() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = arena.allocate(ADDRESS);
      check("cublasCreate_v2", (int) CREATE.invokeExact(p));
      return p.get(ADDRESS, 0);
    } catch (Throwable t) {
      throw CudaDriver.wrap("cublasCreate_v2", t);
    }
  }

  static void destroy(MemorySegment handle) {
    try {
      check("cublasDestroy_v2", (int) DESTROY.invokeExact(handle));
    } catch (Throwable t) {
      throw CudaDriver.wrap("cublasDestroy_v2", t);
    }
  }

  /** Binds {@code handle}'s work to {@code stream} (a CUstream is a cudaStream_t). */
  static void setStream(MemorySegment handle, MemorySegment stream) {
    try {
      check("cublasSetStream_v2", (int) SET_STREAM.invokeExact(handle, stream));
    } catch (Throwable t) {
      throw CudaDriver.wrap("cublasSetStream_v2", t);
    }
  }

  /** e.g. 130100 for cuBLAS 13.1.0. */
  static int version(MemorySegment handle) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = arena.allocate(JAVA_INT);
      check("cublasGetVersion_v2", (int) GET_VERSION.invokeExact(handle, p));
      return p.get(JAVA_INT, 0);
    } catch (Throwable t) {
      throw CudaDriver.wrap("cublasGetVersion_v2", t);
    }
  }

  /**
   * Column-major {@code C = alpha·op(A)·op(B) + beta·C} ({@code C} m×n, inner dimension k); device
   * pointers as addresses, {@code alpha}/{@code beta} host F32 scalars (pointer mode host).
   */
  static void gemmEx(MemorySegment handle, int transa, int transb, int m, int n, int k,
      MemorySegment alpha, long a, int aType, int lda, long b, int bType, int ldb,
      MemorySegment beta, long c, int cType, int ldc) {
    String call = "cublasGemmEx(" + (transa == OP_T ? "T" : "N") + (transb == OP_T ? "T" : "N")
        + ", m " + m + ", n " + n + ", k " + k + ")";
    try {
      check(call, (int) GEMM_EX.invokeExact(handle, transa, transb, m, n, k, alpha,
          MemorySegment.ofAddress(a), aType, lda, MemorySegment.ofAddress(b), bType, ldb, beta,
          MemorySegment.ofAddress(c), cType, ldc, COMPUTE_32F, GEMM_DEFAULT));
    } catch (Throwable t) {
      throw CudaDriver.wrap(call, t);
    }
  }

  /**
   * {@link #gemmEx} for {@code batch} problems at once: problem i reads A at a + i·strideA and B
   * at b + i·strideB and writes C at c + i·strideC (strides in elements; 0 shares an operand).
   */
  static void gemmStridedBatchedEx(MemorySegment handle, int transa, int transb, int m, int n,
      int k, MemorySegment alpha, long a, int aType, int lda, long strideA, long b, int bType,
      int ldb, long strideB, MemorySegment beta, long c, int cType, int ldc, long strideC,
      int batch) {
    String call = "cublasGemmStridedBatchedEx(" + (transa == OP_T ? "T" : "N")
        + (transb == OP_T ? "T" : "N") + ", m " + m + ", n " + n + ", k " + k + ", batch " + batch
        + ")";
    try {
      check(call, (int) GEMM_STRIDED_BATCHED_EX.invokeExact(handle, transa, transb, m, n, k, alpha,
          MemorySegment.ofAddress(a), aType, lda, strideA, MemorySegment.ofAddress(b), bType, ldb,
          strideB, beta, MemorySegment.ofAddress(c), cType, ldc, strideC, batch, COMPUTE_32F,
          GEMM_DEFAULT));
    } catch (Throwable t) {
      throw CudaDriver.wrap(call, t);
    }
  }
}
