package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.tensor.DType;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading libcublas when it is missing or broken, and the fallback to linear.cu: no GPU needed,
 * so this runs on CPU-only CI.
 */
class CublasLoadTest {
  @Test
  void missingLibraryGivesAReasonNamingWhatWasTried(@TempDir Path dir) {
    Cublas.Load load = Cublas.load(List.of("libmla4j-no-such-cublas.so.99"), List.of(dir));
    assertNull(load.lookup());
    assertTrue(load.failure().startsWith("no cuBLAS library found (tried libmla4j-no-such-cublas.so.99")
        && load.failure().contains("LD_LIBRARY_PATH"), load.failure());
  }

  @Test
  void withoutCublasEveryShapeRunsTheKernel() {
    for (DType dtype : DType.values()) {
      for (int tokens : new int[] {1, 64, 2048}) {
        for (boolean transposed : new boolean[] {false, true}) {
          assertEquals(DeviceLinear.Route.KERNEL,
              DeviceLinear.choose(false, transposed, dtype, 512, 4096, tokens));
        }
      }
    }
  }

  @Test
  void withCublasOnlySingleTokenGemvsStayOnTheKernel() {
    // the measured rule: linear.cu wins or ties only for y = x·Wᵀ at T = 1
    assertEquals(DeviceLinear.Route.KERNEL, DeviceLinear.choose(true, false, DType.BF16, 512, 4096, 1));
    assertEquals(DeviceLinear.Route.CUBLAS, DeviceLinear.choose(true, false, DType.BF16, 512, 4096, 64));
    assertEquals(DeviceLinear.Route.CUBLAS, DeviceLinear.choose(true, true, DType.BF16, 4096, 512, 1));
    assertEquals(DeviceLinear.Route.CUBLAS, DeviceLinear.choose(true, false, DType.F16, 4096, 512, 2));
  }
}
