package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.E4m3;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cache.QuantizedBlock;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.oracle.AttentionOracle;
import dev.mla4j.oracle.TensorReader;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.BackendCases;
import dev.mla4j.testing.Caches;
import dev.mla4j.testing.ErrorCheck;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Quantize-on-append on the device ({@link DevicePagedCache#append}) against the host cache's
 * bytes: every code and scale equal to {@link QuantizedLayout#quantize}'s, every plain element
 * to {@code Tensor.set}'s, on rows with zeros, NaN, infinities, exact rounding ties, huge and
 * subnormal values, written through shuffled block tables from unaligned positions of three
 * sequences, with every byte the append must not write left as it was. Skipped without a GPU.
 */
@Tag("gpu")
class DeviceAppendTest {
  private static final int BLOCK = PagedLayers.BLOCK_TOKENS;
  private static final byte FILL = (byte) 0xa5;
  /** Extra source columns per row, NaN: an append reading past its width shows up. */
  private static final int STRIDE_PAD = 5;
  private static final int[] FIRST = {5, 64, 130};
  private static final int TOKENS = 70;
  private static CudaContext ctx;

  @BeforeAll
  static void needsGpu() {
    BackendCases.assumeCuda();
    ctx = CudaContext.get();
  }

  /** Rows of {@code seqs} sequences from positions {@code first[seq]}, blocks shuffled. */
  private record Placement(int[] first, int tokens, int[][] table, int maxBlocks, int blocks) {
    static Placement of(Seeds.Case c, int tokens, int[] first) {
      int maxBlocks = 0;
      for (int f : first) {
        maxBlocks = Math.max(maxBlocks, (f + tokens + BLOCK - 1) / BLOCK);
      }
      List<Integer> ids = new ArrayList<>();
      for (int i = 0; i < first.length * maxBlocks; i++) {
        ids.add(i);
      }
      Collections.shuffle(ids, new java.util.Random(c.seed()));
      int[][] table = new int[first.length][maxBlocks];
      for (int s = 0; s < first.length; s++) {
        for (int b = 0; b < maxBlocks; b++) {
          table[s][b] = ids.get(s * maxBlocks + b);
        }
      }
      return new Placement(first, tokens, table, maxBlocks, first.length * maxBlocks);
    }

    int rows() {
      return first.length * tokens;
    }

    /** Byte offset in the pool of the block holding row {@code row}, and its slot. */
    long block(int row, long blockBytes) {
      int pos = first[row / tokens] + row % tokens;
      return table[row / tokens][pos / BLOCK] * blockBytes;
    }

    int slot(int row) {
      return (first[row / tokens] + row % tokens) % BLOCK;
    }
  }

  static Stream<Arguments> layouts() {
    List<Arguments> cases = new ArrayList<>();
    int[][] shapes = {{1, 512}, {4, 40}, {3, 7}}; // segments, segment length
    for (Quantization q : new Quantization[] {Quantization.INT8, Quantization.INT4,
        Quantization.FP8}) {
      for (int group : new int[] {32, 64, 128, 48, 6}) {
        for (int[] shape : shapes) {
          QuantizedLayout l = new QuantizedLayout(q, shape[0], shape[1], group);
          cases.add(Arguments.of(l, false));
          if (q == Quantization.FP8) {
            cases.add(Arguments.of(l, true));
          }
        }
      }
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} software FP8 {1}")
  @MethodSource("layouts")
  void quantizedRowsAreTheHostBytes(QuantizedLayout layout, boolean softwareFp8) {
    Seeds.Case c = Seeds.forCase("device append " + layout + " " + softwareFp8);
    Placement at = Placement.of(c, TOKENS, FIRST);
    int width = layout.width();
    float[] x = new float[at.rows() * (width + STRIDE_PAD)];
    Arrays.fill(x, Float.NaN);
    for (int r = 0; r < at.rows(); r++) {
      specialRow(c, layout, r, x, r * (width + STRIDE_PAD));
    }
    try (Arena arena = Arena.ofConfined(); CudaStream s = ctx.newStream();
        DevicePagedCache dc = new DevicePagedCache(ctx, DType.BF16, at.blocks(),
            DevicePagedCache.Part.plain(16), DevicePagedCache.Part.quantized(layout))) {
      MemorySegment pool = append(arena, s, dc, 1, at, x, width + STRIDE_PAD, softwareFp8);
      MemorySegment expected = arena.allocate(layout.bytesPerRow() + 16);
      boolean[] written = new boolean[(int) pool.byteSize()];
      for (int r = 0; r < at.rows(); r++) {
        expected.fill((byte) 0);
        layout.quantize(x, r * (width + STRIDE_PAD), expected, 0, layout.rowBytes());
        long block = at.block(r, dc.blockBytes());
        long codes = block + dc.partOffset(1) + (long) at.slot(r) * layout.rowBytes();
        long scales = block + dc.scalesOffset(1) + 2L * at.slot(r) * layout.scalesPerRow();
        String where = layout + " row " + r + " " + c;
        same(where + " codes", expected, 0, pool, codes, layout.rowBytes(), written, x,
            r * (width + STRIDE_PAD));
        same(where + " scales", expected, layout.rowBytes(), pool, scales,
            2 * layout.scalesPerRow(), written, x, r * (width + STRIDE_PAD));
      }
      untouched(pool, written, layout.toString());
    }
  }

  /**
   * Row r of N(0,1) values times a random power of ten, with the case {@code r mod 9} of
   * special values: a group of zeros; NaN; -NaN before a NaN; ±infinity; rounding ties (groups
   * whose max is qmax, scale 1, holding k + 1/2 or the midpoint of two E4M3 values); ±max float
   * and 3e38; subnormals (a group of them); signed zeros; or nothing special.
   */
  private static void specialRow(Seeds.Case c, QuantizedLayout l, int r, float[] x, int off) {
    int width = l.width();
    double magnitude = Math.pow(10, c.nextInt(7) - 3);
    for (int i = 0; i < width; i++) {
      x[off + i] = (float) (c.gaussian(1) * magnitude);
    }
    int any = c.nextInt(width);
    switch (r % 9) {
      case 0 -> Arrays.fill(x, off, off + Math.min(l.groupSize(), l.segmentLength()), 0f);
      case 1 -> x[off + any] = Float.NaN;
      case 2 -> {
        x[off + any] = Float.intBitsToFloat(0xffc00000);
        x[off + c.nextInt(width)] = Float.NaN;
      }
      case 3 -> {
        x[off + any] = Float.POSITIVE_INFINITY;
        x[off + c.nextInt(width)] = Float.NEGATIVE_INFINITY;
      }
      case 4 -> ties(c, l, x, off);
      case 5 -> {
        x[off + any] = c.nextInt(2) == 0 ? Float.MAX_VALUE : -Float.MAX_VALUE;
        x[off + c.nextInt(width)] = -3e38f;
      }
      case 6 -> {
        for (int i = 0; i < width; i++) {
          x[off + i] = Float.MIN_VALUE * (c.nextInt(1 << 20) - (1 << 19));
        }
        x[off + any] = 1e-39f;
      }
      case 7 -> {
        for (int i = 0; i < width; i += 1 + c.nextInt(3)) {
          x[off + i] = c.nextInt(2) == 0 ? -0f : 0f;
        }
      }
      default -> { }
    }
  }

  /** Every group: max |x| = qmax (scale exactly 1), the rest exact midpoints between codes. */
  private static void ties(Seeds.Case c, QuantizedLayout l, float[] x, int off) {
    int qmax = l.quantization().qmax();
    for (int s = 0; s < l.segments(); s++) {
      for (int g = 0; g < l.groupsPerSegment(); g++) {
        int first = off + s * l.segmentLength() + g * l.groupSize();
        int m = l.groupLength(g);
        x[first + c.nextInt(m)] = qmax;
        for (int i = 0; i < m; i++) {
          if (x[first + i] == qmax) {
            continue;
          }
          float mid;
          if (l.quantization() == Quantization.FP8) {
            int code = c.nextInt(0x7e); // 0 .. 0x7d and the next code: both finite
            mid = (E4m3.decode((byte) code) + E4m3.decode((byte) (code + 1))) / 2;
          } else {
            mid = c.nextInt(2 * qmax) - qmax + 0.5f;
          }
          x[first + i] = c.nextInt(2) == 0 ? mid : -mid;
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void plainRowsAreTheHostBytes(DType dtype) {
    Seeds.Case c = Seeds.forCase("device append plain " + dtype);
    Placement at = Placement.of(c, TOKENS, FIRST);
    int width = 37;
    float[] specials = {Float.NaN, Float.intBitsToFloat(0xffc00000), Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY, -0f, Float.MIN_VALUE, 1e-39f, 3e-8f, 6e-8f, 65519f, 65520f,
        65536f, 1e5f, -Float.MAX_VALUE, Float.intBitsToFloat(0x3f808000),
        Float.intBitsToFloat(0x3f818000), Float.intBitsToFloat(0xbf80c000), 1.00048828125f,
        1.00146484375f};
    float[] x = new float[at.rows() * (width + STRIDE_PAD)];
    Arrays.fill(x, Float.NaN);
    for (int r = 0; r < at.rows(); r++) {
      for (int i = 0; i < width; i++) {
        x[r * (width + STRIDE_PAD) + i] = c.nextInt(4) == 0 ? specials[c.nextInt(specials.length)]
            : c.gaussian(Math.pow(10, c.nextInt(5) - 2));
      }
    }
    try (Arena arena = Arena.ofConfined(); CudaStream s = ctx.newStream();
        DevicePagedCache dc = new DevicePagedCache(ctx, dtype, at.blocks(), 8, width)) {
      MemorySegment pool = append(arena, s, dc, 1, at, x, width + STRIDE_PAD, false);
      Tensor expected = Tensor.allocate(arena, dtype, 1, width);
      long rowBytes = (long) width * dtype.bytes();
      boolean[] written = new boolean[(int) pool.byteSize()];
      for (int r = 0; r < at.rows(); r++) {
        for (int i = 0; i < width; i++) {
          expected.set(0, i, x[r * (width + STRIDE_PAD) + i]);
        }
        long row = at.block(r, dc.blockBytes()) + dc.partOffset(1) + at.slot(r) * rowBytes;
        same(dtype + " row " + r + " " + c, expected.data(), 0, pool, row, (int) rowBytes,
            written, x, r * (width + STRIDE_PAD));
      }
      untouched(pool, written, dtype.toString());
    }
  }

  /**
   * A whole MLA cache filled on the device (int4 latent and rope keys, group 32, F32 rows)
   * holds the host cache's blocks byte for byte, and attention over it through
   * {@link PagedAttention} meets the oracle like the scalar backend over the host cache.
   */
  @Test
  void deviceFilledCacheIsTheHostCache() {
    MlaShape shape = new MlaShape(8, 2, 16, 96, RopeKeyLayout.PER_KV_HEAD, 0.1f);
    CacheFormat format = CacheFormat.int4(32).withQuantizedRopeKeys();
    Seeds.Case c = Seeds.forCase("device filled cache");
    int n = 150;
    int blocks = (n + BLOCK - 1) / BLOCK;
    try (Arena arena = Arena.ofShared(); CudaStream s = ctx.newStream();
        Backend scalar = Backends.scalar(1);
        LatentCache host = new LatentCache(shape, 1, format, n)) {
      Tensor latent = Inputs.gaussian(arena, c, DType.F32, n, shape.latentDim(), 1);
      Tensor rope = Inputs.gaussian(arena, c, DType.F32, n, shape.ropeKeyWidth(), 1);
      host.append(0, latent, rope);
      QuantizedBlock l0 = host.latentCodes(0, 0);
      QuantizedBlock r0 = host.ropeCodes(0, 0);
      int[] identity = new int[blocks];
      Arrays.setAll(identity, i -> i);
      Tensor qRope = Inputs.gaussian(arena, c, DType.F32, shape.heads(), shape.ropeDim(), 3);
      Tensor qLatent = Inputs.gaussian(arena, c, DType.F32, shape.heads(), shape.latentDim(), 3);
      try (DevicePagedCache dc = new DevicePagedCache(ctx, DType.BF16, blocks,
              DevicePagedCache.Part.quantized(l0.layout()),
              DevicePagedCache.Part.quantized(r0.layout()));
          DeviceBuffer table = DeviceData.ints(ctx, arena, s, identity);
          DeviceBuffer first = DeviceData.ints(ctx, arena, s, new int[] {0});
          DeviceBuffer last = DeviceData.ints(ctx, arena, s, new int[] {n - 1});
          DeviceBuffer rows = DeviceData.floats(ctx, arena, s, List.of(latent, rope));
          DeviceBuffer qa = DeviceData.floats(ctx, arena, s, List.of(qLatent));
          DeviceBuffer qb = DeviceData.floats(ctx, arena, s, List.of(qRope));
          DeviceBuffer out = ctx.allocate(4L * shape.heads() * shape.latentDim());
          PagedAttention plan = PagedAttention.mla(ctx, shape, dc, 1, 1, n)) {
        dc.append(s, 0, rows.pointer(), shape.latentDim(), n, 1, table.pointer(), blocks,
            first.pointer());
        dc.append(s, 1, rows.pointer(latent.data().byteSize()), shape.ropeKeyWidth(), n, 1,
            table.pointer(), blocks, first.pointer());
        out.fill32(s, Float.floatToRawIntBits(Float.NaN));
        plan.launch(s, qa.pointer(), qb.pointer(), table.pointer(), blocks, last.pointer(),
            out.pointer());
        MemorySegment pool = DeviceData.download(arena, s, dc.pool());
        for (int pos = 0; pos < n; pos++) {
          long base = (long) pos / BLOCK * dc.blockBytes();
          int slot = pos % BLOCK;
          QuantizedBlock[] parts = {host.latentCodes(0, pos / BLOCK), host.ropeCodes(0, pos / BLOCK)};
          for (int p = 0; p < 2; p++) {
            QuantizedLayout l = parts[p].layout();
            assertEquals(-1, MemorySegment.mismatch(parts[p].data(), parts[p].codeRow(slot),
                parts[p].codeRow(slot) + l.rowBytes(), pool,
                base + dc.partOffset(p) + (long) slot * l.rowBytes(),
                base + dc.partOffset(p) + (long) (slot + 1) * l.rowBytes()),
                "codes of part " + p + " position " + pos);
            assertEquals(-1, MemorySegment.mismatch(parts[p].data(), parts[p].scaleRow(slot),
                parts[p].scaleRow(slot) + 2L * l.scalesPerRow(), pool,
                base + dc.scalesOffset(p) + 2L * slot * l.scalesPerRow(),
                base + dc.scalesOffset(p) + 2L * (slot + 1) * l.scalesPerRow()),
                "scales of part " + p + " position " + pos);
          }
        }
        MemorySegment got = DeviceData.download(arena, s, out);
        float[] y = new float[shape.heads() * shape.latentDim()];
        MemorySegment.copy(got, ValueLayout.JAVA_FLOAT, 0, y, 0, y.length);
        Tensor ref = Tensor.allocate(arena, DType.F32, shape.heads(), shape.latentDim());
        scalar.mlaAttention(shape, qRope, qLatent, host, 0, n - 1, ref);
        double[] latents = Caches.latents(host, 0, n);
        double[] oracle = AttentionOracle.mlaAbsorbed(TensorReader.read(qRope),
            TensorReader.read(qLatent), Caches.ropeKeys(host, 0, n), latents, shape.heads(),
            shape.kvHeads(), shape.ropeDim(), shape.latentDim(), false, n - 1,
            shape.softmaxScale());
        ErrorCheck.check("device-filled mla cache", c, "cuda " + plan.kernel(), oracle,
            Inputs.floats(ref), y,
            ErrorCheck.attentionFloor(shape.ropeDim() + shape.latentDim() + n, oracle, latents));
      }
    }
  }

  /**
   * Fills the pool with {@link #FILL}, appends {@code x} ({@code [rows][stride]}) into
   * {@code part} through the placement, and returns the pool.
   */
  private static MemorySegment append(Arena arena, CudaStream s, DevicePagedCache dc, int part,
      Placement at, float[] x, int stride, boolean softwareFp8) {
    int[] flat = Arrays.stream(at.table()).flatMapToInt(Arrays::stream).toArray();
    try (DeviceBuffer table = DeviceData.ints(ctx, arena, s, flat);
        DeviceBuffer first = DeviceData.ints(ctx, arena, s, at.first());
        DeviceBuffer rows = DeviceData.bytes(ctx, arena, s, MemorySegment.ofArray(x))) {
      dc.pool().fill32(s, 0x01010101 * (FILL & 0xff));
      CudaOps.append(ctx, s, dc, part, rows.pointer(), stride, at.tokens(), at.first().length,
          table.pointer(), at.maxBlocks(), first.pointer(), softwareFp8);
      return DeviceData.download(arena, s, dc.pool());
    }
  }

  /** Bytes [at, at+n) of the pool equal expected's [from, from+n); marks them written. */
  private static void same(String what, MemorySegment expected, long from, MemorySegment pool,
      long at, int n, boolean[] written, float[] x, int rowOffset) {
    for (int i = 0; i < n; i++) {
      byte e = expected.get(ValueLayout.JAVA_BYTE, from + i);
      byte g = pool.get(ValueLayout.JAVA_BYTE, at + i);
      if (e != g) {
        fail(what + ": byte " + i + " is 0x" + Integer.toHexString(g & 0xff) + ", host 0x"
            + Integer.toHexString(e & 0xff) + "; row starts "
            + Arrays.toString(Arrays.copyOfRange(x, rowOffset, rowOffset + Math.min(8, n))));
      }
      written[(int) (at + i)] = true;
    }
  }

  private static void untouched(MemorySegment pool, boolean[] written, String what) {
    for (int i = 0; i < written.length; i++) {
      if (!written[i] && pool.get(ValueLayout.JAVA_BYTE, i) != FILL) {
        fail(what + ": byte " + i + " of the pool was written but belongs to no appended row");
      }
    }
  }
}
