package dev.mla4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.testing.BackendCases;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The log-sum-exp merge of split partial states (native/attention.cu, launched behind the
 * attention kernel with programmatic dependent launch on sm_90) against a double-precision
 * oracle: split counts on both sides of the one-warp kernel's 8 (mla4j_merge_few_splits) and
 * around the other's 8 groups of 8 loads and its 512-split weight chunks; widths that are and are
 * not float4 rows; an output that is not 16-byte aligned (the scalar path); splits that saw no
 * key (max -inf, NaN partial) adding nothing.
 */
@Tag("gpu")
class SplitMergeTest {
  private static CudaContext ctx;

  @BeforeAll
  static void needsGpu() {
    BackendCases.assumeCuda();
    ctx = CudaContext.get();
  }

  @ParameterizedTest(name = "rows {0}, width {1}, splits {2}, out offset {3} floats")
  @CsvSource({"3, 512, 1, 0", "2, 512, 5, 0", "5, 512, 8, 0", "3, 512, 9, 0", "4, 512, 128, 0",
      "2, 132, 131, 0", "2, 130, 33, 0", "1, 2048, 64, 0", "2, 64, 600, 0", "3, 7, 17, 0",
      "2, 128, 40, 1", "2, 30, 3, 1"})
  void mergeMatchesTheLogSumExpOracle(int rows, int width, int splits, int outOffset) {
    Seeds.Case c = Seeds.forCase("merge " + rows + "x" + width + "x" + splits + "+" + outOffset);
    float[] acc = c.gaussians(splits * rows * width, 1.0);
    float[] ml = new float[splits * rows * 2];
    for (int s = 0; s < splits; s++) {
      for (int r = 0; r < rows; r++) {
        int i = (s * rows + r) * 2;
        boolean empty = splits > 1 && c.nextInt(7) == 0;
        ml[i] = empty ? Float.NEGATIVE_INFINITY : c.gaussian(4.0);
        ml[i + 1] = empty ? 0f : 1f + c.nextInt(100);
        if (empty) {
          for (int j = 0; j < width; j++) {
            acc[(s * rows + r) * width + j] = Float.NaN;
          }
        }
      }
    }
    try (Arena arena = Arena.ofConfined(); CudaStream stream = ctx.newStream();
        DeviceBuffer dAcc = DeviceData.bytes(ctx, arena, stream, MemorySegment.ofArray(acc));
        DeviceBuffer dMl = DeviceData.bytes(ctx, arena, stream, MemorySegment.ofArray(ml));
        DeviceBuffer dOut = ctx.allocate((long) (rows * width + outOffset) * Float.BYTES)) {
      PagedAttention.mergeSplits(ctx, stream, dAcc.pointer(), dMl.pointer(), rows, width, splits,
          dOut.pointer((long) outOffset * Float.BYTES));
      MemorySegment got = DeviceData.download(arena, stream, dOut);
      for (int r = 0; r < rows; r++) {
        double max = Double.NEGATIVE_INFINITY;
        for (int s = 0; s < splits; s++) {
          max = Math.max(max, ml[(s * rows + r) * 2]);
        }
        double sum = 0;
        double[] weight = new double[splits];
        for (int s = 0; s < splits; s++) {
          double m = ml[(s * rows + r) * 2];
          weight[s] = m == Double.NEGATIVE_INFINITY ? 0 : Math.exp(m - max);
          sum += ml[(s * rows + r) * 2 + 1] * weight[s];
        }
        for (int j = 0; j < width; j++) {
          double want = 0;
          double magnitude = 0;
          for (int s = 0; s < splits; s++) {
            if (weight[s] != 0) {
              double a = acc[(s * rows + r) * width + j];
              want += a * weight[s];
              magnitude += Math.abs(a) * weight[s];
            }
          }
          // a row no split saw a key of is zero
          want = sum > 0 ? want / sum : 0;
          double have = got.getAtIndex(JAVA_FLOAT, (long) r * width + j + outOffset);
          // FP32 sums over the splits and expf: relative to the terms' magnitude
          double tol = sum > 0 ? 1e-5 * magnitude / sum + 1e-30 : 0;
          assertTrue(Math.abs(have - want) <= tol, c + " row " + r + " column " + j + ": got "
              + have + ", want " + want + " (tolerance " + tol + ")");
        }
      }
    }
  }
}
