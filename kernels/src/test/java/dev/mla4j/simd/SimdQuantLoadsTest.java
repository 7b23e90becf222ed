package dev.mla4j.simd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.oracle.QuantDecoder;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The SIMD code loads lane by lane against the oracle's decoder: every one of the 256 fp8 codes
 * in every lane (the loads start at every byte offset), and every int8 byte.
 */
@Tag("simd")
class SimdQuantLoadsTest {

  @Test
  void fp8DecodesEveryCodeInEveryLane() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment seg = counting(arena, 512);
      for (int off = 0; off < 256; off++) {
        FloatVector v = SimdQuantLoads.fp8(seg, off);
        assertArrayEquals(v.toArray(), SimdQuantLoads.byteCodes(seg, off, true).toArray());
        for (int lane = 0; lane < SimdConstants.LANES; lane++) {
          int code = (off + lane) & 0xff;
          check(code, v.lane(lane), "lane " + lane + " at offset " + off);
        }
        check(off, SimdQuantLoads.code(seg, 0, off, 256, Quantization.FP8), "scalar tail");
      }
    }
  }

  @Test
  void int8DecodesEveryByte() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment seg = counting(arena, 256);
      for (int off = 0; off < 256; off += SimdConstants.LANES) {
        FloatVector v = SimdQuantLoads.byteCodes(seg, off, false);
        for (int lane = 0; lane < SimdConstants.LANES && off + lane < 256; lane++) {
          assertEquals((byte) (off + lane), v.lane(lane), "byte " + (off + lane));
        }
      }
    }
  }

  /** Bytes 0, 1, .. (mod 256) at offsets 0..n-1, and room for a vector load past them. */
  private static MemorySegment counting(Arena arena, int n) {
    MemorySegment seg = arena.allocate(n + 64);
    for (int i = 0; i < n; i++) {
      seg.set(ValueLayout.JAVA_BYTE, i, (byte) i);
    }
    return seg;
  }

  private static void check(int code, float got, String where) {
    double want = QuantDecoder.e4m3(code);
    if (Double.isNaN(want)) {
      assertTrue(Float.isNaN(got), String.format("0x%02x %s: %s, not NaN", code, where, got));
    } else {
      assertEquals(Double.valueOf(want), Double.valueOf(got), String.format("0x%02x %s", code,
          where));
    }
  }
}
