package dev.mla4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Java mirrors of the parameter structs in native/mla4j_params.h, field for field (device
 * pointers as 64-bit integers), and a writer that fills one by field name. A struct is passed
 * by value: cuLaunchKernel copies it at launch, so one segment can be refilled for the next.
 */
final class KernelStructs {
  private KernelStructs() {}

  private static MemoryLayout ptr(String name) {
    return JAVA_LONG.withName(name);
  }

  private static MemoryLayout i32(String name) {
    return JAVA_INT.withName(name);
  }

  /** PagedAttnParams (264 bytes). */
  static final StructLayout PAGED_ATTN = MemoryLayout.structLayout(
      ptr("qa"),           // [seqs·T·n_h][a_width]
      ptr("qb"),           // [seqs·T·n_h][b_width]
      ptr("pool"),         // blocks of block_bytes
      ptr("block_table"),  // [seqs][max_blocks]
      ptr("first_pos"),    // [seqs]
      ptr("out"),          // [seqs·T·n_h][v_width]
      ptr("part_acc"),     // [splits][rows][v_width]
      ptr("part_ml"),      // [splits][rows][2]
      JAVA_LONG.withName("block_bytes"), JAVA_LONG.withName("a_offset"),
      JAVA_LONG.withName("b_offset"), JAVA_LONG.withName("v_offset"),
      JAVA_LONG.withName("a_scales"), JAVA_LONG.withName("b_scales"),
      JAVA_LONG.withName("v_scales"),
      i32("a_row"), i32("b_row"), i32("v_row"), i32("a_width"), i32("b_width"), i32("v_width"),
      i32("a_kv_stride"), i32("b_kv_stride"), i32("v_kv_stride"), i32("heads"), i32("group"),
      i32("tokens"), i32("seqs"), i32("max_blocks"), i32("splits"), i32("blocks_per_split"),
      i32("heads_per_cta"), i32("tile_tokens"), i32("dtype"), JAVA_FLOAT.withName("scale"),
      i32("value_is_a"), i32("a_quant"), i32("b_quant"), i32("v_quant"), i32("a_seg"),
      i32("b_seg"), i32("v_seg"), i32("a_code_row"), i32("b_code_row"), i32("v_code_row"),
      i32("a_scale_row"), i32("b_scale_row"), i32("v_scale_row"), i32("quant_group"),
      i32("key_limit"), i32("pad"));

  /** AppendParams (104 bytes). */
  static final StructLayout APPEND = MemoryLayout.structLayout(
      ptr("src"),          // [seqs·T][src_stride] F32
      ptr("pool"),         // blocks of block_bytes
      ptr("block_table"),  // [seqs][max_blocks]
      ptr("first_pos"),    // [seqs]
      JAVA_LONG.withName("block_bytes"), JAVA_LONG.withName("part_offset"),
      JAVA_LONG.withName("scales_offset"), JAVA_LONG.withName("src_stride"),
      i32("width"), i32("tokens"), i32("seqs"), i32("max_blocks"), i32("dtype"), i32("quant"),
      i32("seg"), i32("group"), i32("code_row"), i32("scale_row"));

  /** ExpandParams (96 bytes). */
  static final StructLayout EXPAND = MemoryLayout.structLayout(
      ptr("pool"), ptr("block_table"), ptr("latent"), ptr("kv"),
      JAVA_LONG.withName("block_bytes"), JAVA_LONG.withName("a_offset"),
      JAVA_LONG.withName("b_offset"),
      i32("a_row"), i32("b_row"), i32("latent_width"), i32("kv_heads"), i32("rope_width"),
      i32("rope_kv_stride"), i32("head_stride"), i32("kv_row"), i32("keys"), i32("pad"));

  /** MergeParams (40 bytes). */
  static final StructLayout MERGE = MemoryLayout.structLayout(
      ptr("part_acc"),     // [splits][rows][width]
      ptr("part_ml"),      // [splits][rows][2]
      ptr("out"),          // [rows][width]
      i32("rows"), i32("width"), i32("splits"), i32("pad"));

  /** RopeParams (72 bytes). */
  static final StructLayout ROPE = MemoryLayout.structLayout(
      ptr("x"),            // [T][row_stride]
      ptr("positions"),    // [T]
      ptr("inv_freq"),     // [n_kv][r]
      ptr("first"),        // [r]
      ptr("second"),       // [r]
      JAVA_LONG.withName("row_stride"), i32("tokens"), i32("heads"), i32("r"), i32("group"),
      JAVA_FLOAT.withName("attention"), i32("pad"));

  /** LinearParams (64 bytes). */
  static final StructLayout LINEAR = MemoryLayout.structLayout(
      ptr("x"),            // [T][x_stride] F32
      ptr("w"),            // [w_rows][w_stride] dtype
      ptr("y"),            // [T][y_stride] F32
      JAVA_LONG.withName("x_stride"), JAVA_LONG.withName("w_stride"),
      JAVA_LONG.withName("y_stride"), i32("tokens"), i32("w_rows"), i32("w_cols"), i32("dtype"));

  /** RoundParams (40 bytes). */
  static final StructLayout ROUND = MemoryLayout.structLayout(
      ptr("src"),          // [rows][src_stride] F32
      ptr("dst"),          // [rows][cols] dtype
      JAVA_LONG.withName("src_stride"), i32("rows"), i32("cols"), i32("dtype"), i32("pad"));

  /** FillParams (24 bytes). */
  static final StructLayout FILL = MemoryLayout.structLayout(
      ptr("dst"),          // [n] dtype
      JAVA_LONG.withName("n"), i32("seed"), i32("dtype"));

  /** PeakParams (16 bytes). */
  static final StructLayout PEAK = MemoryLayout.structLayout(
      ptr("out"),          // [blocks·threads] F32
      JAVA_LONG.withName("iters"));

  /** ReadPeakParams (24 bytes). */
  static final StructLayout READ_PEAK = MemoryLayout.structLayout(
      ptr("src"),          // [bytes]
      ptr("out"),          // [blocks·READ_PEAK_THREADS] U32
      JAVA_LONG.withName("bytes"));

  /**
   * One struct instance in memory, written field by field. Field offsets are looked up once per
   * layout: a launch sets up to eight fields, and walking the layout's path for each took
   * microseconds of a 13-20 us batch-1 decode step's host time.
   */
  static final class Writer {
    private static final Map<StructLayout, Map<String, Long>> OFFSETS = new ConcurrentHashMap<>();

    private final Map<String, Long> offsets;
    final MemorySegment segment;

    Writer(Arena arena, StructLayout layout) {
      this.offsets = OFFSETS.computeIfAbsent(layout, Writer::offsetsOf);
      this.segment = arena.allocate(layout);
    }

    private static Map<String, Long> offsetsOf(StructLayout layout) {
      Map<String, Long> m = new HashMap<>();
      for (MemoryLayout member : layout.memberLayouts()) {
        member.name().ifPresent(n -> m.put(n, layout.byteOffset(PathElement.groupElement(n))));
      }
      return Map.copyOf(m);
    }

    private long offset(String field) {
      Long at = offsets.get(field);
      if (at == null) {
        throw new IllegalArgumentException("no field " + field + " in " + offsets.keySet());
      }
      return at;
    }

    Writer set(String field, long value) {
      segment.set(JAVA_LONG, offset(field), value);
      return this;
    }

    Writer set(String field, int value) {
      segment.set(JAVA_INT, offset(field), value);
      return this;
    }

    Writer set(String field, float value) {
      segment.set(JAVA_FLOAT, offset(field), value);
      return this;
    }
  }
}
