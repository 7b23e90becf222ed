package dev.mla4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The writer's cached field offsets against the layouts' own path lookups; no GPU needed. */
class KernelStructsTest {
  private static final List<StructLayout> LAYOUTS = List.of(KernelStructs.PAGED_ATTN,
      KernelStructs.APPEND, KernelStructs.EXPAND, KernelStructs.MERGE, KernelStructs.ROPE,
      KernelStructs.LINEAR, KernelStructs.ROUND, KernelStructs.FILL, KernelStructs.PEAK,
      KernelStructs.READ_PEAK);

  @Test
  void everyFieldLandsAtItsLayoutOffset() {
    try (Arena arena = Arena.ofConfined()) {
      for (StructLayout layout : LAYOUTS) {
        int k = 0;
        for (MemoryLayout m : layout.memberLayouts()) {
          String name = m.name().orElseThrow();
          long at = layout.byteOffset(PathElement.groupElement(name));
          // a fresh writer per field: the field's bytes are the only ones written
          KernelStructs.Writer w = new KernelStructs.Writer(arena, layout);
          k++;
          if (m instanceof ValueLayout.OfLong) {
            w.set(name, 0x0102030405060708L * k);
            assertEquals(0x0102030405060708L * k, w.segment.get(JAVA_LONG, at), name);
          } else if (m instanceof ValueLayout.OfInt) {
            w.set(name, 1000 + k);
            assertEquals(1000 + k, w.segment.get(JAVA_INT, at), name);
          } else {
            w.set(name, 0.5f + k);
            assertEquals(0.5f + k, w.segment.get(JAVA_FLOAT, at), name);
          }
          long nonZero = 0;
          for (long b = 0; b < layout.byteSize(); b++) {
            nonZero += w.segment.get(ValueLayout.JAVA_BYTE, b) != 0 ? 1 : 0;
          }
          assertTrue(nonZero > 0 && nonZero <= m.byteSize(), name + " wrote " + nonZero + " bytes");
        }
      }
    }
  }

  @Test
  void anUnknownFieldIsNamed() {
    try (Arena arena = Arena.ofConfined()) {
      KernelStructs.Writer w = new KernelStructs.Writer(arena, KernelStructs.MERGE);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> w.set("spilts", 3));
      assertTrue(e.getMessage().contains("spilts") && e.getMessage().contains("splits"),
          e.getMessage());
    }
  }
}
