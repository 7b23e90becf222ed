package dev.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.cache.QuantizedBlock;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import dev.mla4j.testing.BackendCases;
import dev.mla4j.testing.Caches;
import dev.mla4j.testing.Inputs;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * GPU-only checks of the CUDA plumbing and of the device-resident path (several sequences,
 * shuffled blocks, split-KV) against the scalar backend. Skipped with the reason without a GPU.
 */
@Tag("gpu")
class CudaBackendTest {
  private static CudaContext ctx;

  @BeforeAll
  static void needsGpu() {
    BackendCases.assumeCuda();
    ctx = CudaContext.get();
    System.out.println("CUDA device: " + ctx.describe());
  }

  @Test
  void buffersCloseOnceAndRefuseUseAfterClose() {
    long before = DeviceBuffer.live();
    DeviceBuffer b = ctx.allocate(1024);
    assertEquals(before + 1, DeviceBuffer.live());
    b.close();
    assertDoesNotThrow(b::close);
    assertEquals(before, DeviceBuffer.live());
    assertThrows(IllegalStateException.class, b::pointer);
  }

  @Test
  void failedCallsNameTheCallAndTheResult() {
    var e = assertThrows(CudaException.class, () -> ctx.allocate(1L << 52));
    assertTrue(e.getMessage().contains("cuMemAlloc_v2")
        && e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY"), e.getMessage());
  }

  /**
   * A kernel that no loaded module declares is named in the error, not met as a null function
   * inside a driver call (stop 23: a name missing from CudaContext's module lists surfaced as
   * "cuFuncSetAttribute could not be called: NullPointerException").
   */
  @Test
  void undeclaredKernelsAreNamed() {
    var e = assertThrows(IllegalStateException.class, () -> ctx.function("mla4j_no_such_kernel"));
    assertTrue(e.getMessage().contains("mla4j_no_such_kernel"), e.getMessage());
  }

  @Test
  void uploadAndDownloadRoundTrip() {
    try (Arena arena = Arena.ofConfined(); CudaStream s = ctx.newStream();
        DeviceBuffer d = ctx.allocate(4096)) {
      MemorySegment src = arena.allocate(4096);
      for (int i = 0; i < 1024; i++) {
        src.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, i, i * 7 + 1);
      }
      MemorySegment dst = arena.allocate(4096);
      d.upload(s, src, 0);
      d.download(s, 0, dst);
      s.synchronize();
      assertEquals(-1, src.mismatch(dst));
    }
  }

  /** Host caches of several sequences, their blocks scattered over one device pool. */
  private record Batch(int[] lens, int tokens, int[][] table, int maxBlocks, int totalBlocks) {
    static Batch of(Seeds.Case c, int tokens, int... lens) {
      int maxBlocks = 0;
      int total = 0;
      for (int len : lens) {
        int nb = (len + PagedLayers.BLOCK_TOKENS - 1) / PagedLayers.BLOCK_TOKENS;
        maxBlocks = Math.max(maxBlocks, nb);
        total += nb;
      }
      List<Integer> ids = new ArrayList<>();
      for (int i = 0; i < total; i++) {
        ids.add(i);
      }
      Collections.shuffle(ids, new java.util.Random(c.seed()));
      int[][] table = new int[lens.length][maxBlocks];
      int k = 0;
      for (int s = 0; s < lens.length; s++) {
        int nb = (lens[s] + PagedLayers.BLOCK_TOKENS - 1) / PagedLayers.BLOCK_TOKENS;
        for (int b = 0; b < nb; b++) {
          table[s][b] = ids.get(k++);
        }
      }
      return new Batch(lens, tokens, table, maxBlocks, total);
    }

    int maxKeys() {
      return java.util.Arrays.stream(lens).max().orElseThrow();
    }
  }

  /** Uploads every (sequence, block, part) through {@code part} into the pool per the table. */
  private static void upload(Arena arena, CudaStream s, DevicePagedCache dc, Batch batch,
      int parts, BiFunction<Integer, int[], Tensor> part) {
    MemorySegment staging = arena.allocate(dc.blockBytes() * dc.blocks(), 16);
    for (int q = 0; q < batch.lens().length; q++) {
      int nb = (batch.lens()[q] + PagedLayers.BLOCK_TOKENS - 1) / PagedLayers.BLOCK_TOKENS;
      for (int b = 0; b < nb; b++) {
        for (int p = 0; p < parts; p++) {
          Tensor t = part.apply(q, new int[] {b, p});
          MemorySegment.copy(t.data(), 0, staging,
              batch.table()[q][b] * dc.blockBytes() + dc.partOffset(p), t.data().byteSize());
        }
      }
    }
    dc.pool().upload(s, staging, 0);
  }

  /** As {@link #upload}, for a quantized latent (codes and scales) and plain rope keys. */
  private static void uploadQuantizedLatent(Arena arena, CudaStream s, DevicePagedCache dc,
      Batch batch, List<LatentCache> caches) {
    uploadBlocks(arena, s, dc, batch, (staging, base, q, b, valid) -> {
      LatentCache cache = caches.get(q);
      stageCodes(staging, base, dc, 0, cache.latentCodes(0, b), valid);
      if (cache.ropeKeysQuantized()) {
        stageCodes(staging, base, dc, 1, cache.ropeCodes(0, b), valid);
      } else {
        Tensor rope = cache.ropeBlock(0, b);
        MemorySegment.copy(rope.data(), 0, staging, base + dc.partOffset(1),
            rope.data().byteSize());
      }
    });
  }

  /** Where block b of sequence q (valid tokens of it) goes: a pool block at staging[base]. */
  private interface BlockStager {
    void stage(MemorySegment staging, long base, int q, int b, int valid);
  }

  /** Every block of the batch staged by {@code stager} at its table slot, then uploaded. */
  private static void uploadBlocks(Arena arena, CudaStream s, DevicePagedCache dc, Batch batch,
      BlockStager stager) {
    MemorySegment staging = arena.allocate(dc.blockBytes() * dc.blocks(), 16);
    for (int q = 0; q < batch.lens().length; q++) {
      int nb = (batch.lens()[q] + PagedLayers.BLOCK_TOKENS - 1) / PagedLayers.BLOCK_TOKENS;
      for (int b = 0; b < nb; b++) {
        stager.stage(staging, batch.table()[q][b] * dc.blockBytes(), q, b,
            Math.min(PagedLayers.BLOCK_TOKENS, batch.lens()[q] - b * PagedLayers.BLOCK_TOKENS));
      }
    }
    dc.pool().upload(s, staging, 0);
  }

  /** One block's codes and scales of a quantized part, at its place in a pool block at base. */
  private static void stageCodes(MemorySegment staging, long base, DevicePagedCache dc, int part,
      QuantizedBlock codes, int valid) {
    QuantizedLayout layout = dc.quantization(part);
    MemorySegment.copy(codes.data(), codes.codeRow(0), staging, base + dc.partOffset(part),
        (long) PagedLayers.BLOCK_TOKENS * layout.rowBytes());
    MemorySegment.copy(codes.data(), codes.scaleRow(0), staging, base + dc.scalesOffset(part),
        2L * PagedLayers.BLOCK_TOKENS * layout.scalesPerRow());
    // rows past the sequence's end hold stale bytes in a real pool: here codes 0x7F (NaN in
    // E4M3) with scales 0x7F7F (BF16 3.4e38), which poison any output that reads them
    for (int r = valid; r < PagedLayers.BLOCK_TOKENS; r++) {
      staging.asSlice(base + dc.partOffset(part) + (long) r * layout.rowBytes(), layout.rowBytes())
          .fill((byte) 0x7F);
      staging.asSlice(base + dc.scalesOffset(part) + 2L * r * layout.scalesPerRow(),
          2L * layout.scalesPerRow()).fill((byte) 0x7F);
    }
  }

  private static DeviceBuffer ints(Arena arena, CudaStream s, int[] values) {
    return DeviceData.ints(ctx, arena, s, values);
  }

  private static DeviceBuffer floats(Arena arena, CudaStream s, List<Tensor> parts) {
    return DeviceData.floats(ctx, arena, s, parts);
  }

  private static void compare(String what, List<Tensor> expected, MemorySegment got, int width,
      double tolerance) {
    compare(what, expected, got, width, tolerance, false);
  }

  /**
   * Holds the output to {@code tolerance} times the largest reference magnitude: the whole
   * output's, or with {@code eachRow} each row's own.
   */
  private static void compare(String what, List<Tensor> expected, MemorySegment got, int width,
      double tolerance, boolean eachRow) {
    double maxErr = 0;
    double maxRef = 0;
    double worstRow = 0;
    long i = 0;
    for (Tensor e : expected) {
      for (int r = 0; r < e.rows(); r++) {
        double rowErr = 0;
        double rowRef = 0;
        for (int c = 0; c < width; c++) {
          float y = got.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i++);
          assertTrue(Float.isFinite(y), what + ": non-finite output at " + (i - 1));
          rowErr = Math.max(rowErr, Math.abs(y - e.get(r, c)));
          rowRef = Math.max(rowRef, Math.abs(e.get(r, c)));
        }
        if (eachRow) {
          assertTrue(rowErr <= tolerance * rowRef,
              what + ": row " + r + " max error " + rowErr + " vs its max " + rowRef);
          worstRow = Math.max(worstRow, rowErr / rowRef);
        }
        maxErr = Math.max(maxErr, rowErr);
        maxRef = Math.max(maxRef, rowRef);
      }
    }
    if (eachRow) {
      System.out.printf("%s: worst row error %.3g of the row's max%n", what, worstRow);
    }
    System.out.printf("%s: max error %.3g of max %.3g%n", what, maxErr, maxRef);
    assertTrue(maxErr <= tolerance * maxRef, what + ": max error " + maxErr + " vs max " + maxRef);
  }

  @ParameterizedTest
  @EnumSource(RopeKeyLayout.class)
  void batchedMlaOverScatteredBlocksMatchesScalar(RopeKeyLayout layout) {
    MlaShape s = layout == RopeKeyLayout.SHARED
        ? new MlaShape(16, 1, 16, 96, RopeKeyLayout.SHARED, 0.12f)
        : MlaShape.mha2mla(8, 4, 64, 4, 16);
    batchedMla(s, false, FP32_TOLERANCE);
  }

  /**
   * The tensor-core kernel rounds queries and probabilities to BF16 (8 significant bits) before
   * the MMA, so its error against the FP32 scalar backend is BF16-level, not FP32-level: a
   * score error of about eps_BF16·|score| moves each probability by that relative amount, and
   * the rounded probabilities add eps_BF16/2 each. The bound, 8·eps_BF16 = 8·2^-8 of the
   * output's largest magnitude, covers that with room for scores of a few units; a wrong index
   * or a lost tile gives errors of the order of the output itself. Shapes hit four instances:
   * shared rope folded into the MMA at L 512 and 1024; per-kv-head rope (block-diagonal in the
   * score MMA) with d_r 8 and GQA groups of 2, and the Llama-2-7B MHA2MLA shapes d_kv 16 and 64
   * (d_r 16, one head per kv head, L 512 and 2048: 16- and 8-token score units), a slab with a
   * rope span of 8 columns (zero-padded to 16) and one of 48 (copies walked with a carry).
   */
  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6})
  void tensorCoreMlaMatchesScalarWithinBf16Tolerance(int which) {
    MlaShape s = switch (which) {
      case 0 -> new MlaShape(32, 1, 16, 512, RopeKeyLayout.SHARED, 0.06f);
      case 1 -> new MlaShape(16, 1, 64, 1024, RopeKeyLayout.SHARED, 0.04f);
      case 2 -> MlaShape.mha2mla(32, 16, 64, 4, 32);
      case 3 -> MlaShape.mha2mla(32, 32, 128, 8, 16);
      case 4 -> MlaShape.mha2mla(32, 32, 128, 8, 64);
      // one kv head of d_r 8 per slab: a rope span that is not a multiple of 16 columns, whose
      // staged rope rows are zero-padded to the MMA's 16
      case 5 -> MlaShape.mha2mla(16, 1, 64, 4, 512);
      // rope rows of 48 columns: 6 copy chunks, which do not divide the CTA's 256 threads, so the
      // copies walk (row, chunk) cells with a carry
      default -> MlaShape.mha2mla(16, 2, 64, 12, 256);
    };
    batchedMla(s, true, BF16_TOLERANCE);
  }

  /**
   * The quantized tensor-core kernel widens INT8/INT4/FP8 codes exactly and rounds queries,
   * probabilities and the normalized scales to FP16 (11 significant bits) for the MMA; its
   * reference is the scalar backend reading the same codes. The bound is the BF16 one scaled to
   * FP16's precision, 8·2^-11 of the output's largest magnitude; a wrong scale, token or column
   * gives errors of the order of the output. Group sizes 32/64/128, both rope layouts (per-head
   * rope keys with d_r 16 and 8, GQA groups of 1 and 2), L 512, 1024 and 2048, and DeepSeek's
   * shape with 128 heads (64-head slabs of the mma.sync kernel, wgmma off). INT4's
   * lane chunks are 8 bytes at L 512 and 16 above it; each holds a low-nibble run and a
   * high-nibble run G/2 columns apart, so a swapped nibble or half lands values in the wrong
   * columns.
   */
  @ParameterizedTest
  @CsvSource({"INT8,64,0", "FP8,64,0", "INT8,32,1", "FP8,128,1",
      "FP8,32,2", "INT8,128,2", "FP8,64,3", "INT8,128,4", "INT4,64,0", "INT4,32,1", "INT4,128,2",
      "INT4,32,3", "INT4,64,4", "INT4,128,4", "INT4,64,5"})
  void tensorCoreMlaReadsQuantizedLatentWithinFp16Tolerance(String quant, int group, int which) {
    MlaShape s = switch (which) {
      case 0 -> MlaShape.mha2mla(32, 32, 64, 8, 16);
      case 1 -> new MlaShape(32, 1, 64, 512, RopeKeyLayout.SHARED, 0.06f);
      case 2 -> new MlaShape(16, 1, 64, 1024, RopeKeyLayout.SHARED, 0.04f);
      case 3 -> MlaShape.mha2mla(32, 16, 64, 4, 32);
      case 4 -> MlaShape.mha2mla(32, 32, 128, 8, 64);
      default -> new MlaShape(128, 1, 64, 512, RopeKeyLayout.SHARED, 0.05f);
    };
    String kernel = batchedMla(s, CacheFormat.parse(quant, group, 0, false), true, false,
        FP16_TOLERANCE);
    assertTrue(kernel.startsWith("mla4j_mla_mma_" + quant.toLowerCase(java.util.Locale.ROOT)
        + "_m"), kernel);
  }

  /**
   * Where each CTA walks enough key blocks, Llama-2-7B d_kv 32 (L 1024, 32 heads) runs one 32-head
   * slab with 16-token tiles instead of two 16-head slabs of 32-token tiles
   * (PagedAttention.widerSlab). 64 query tokens per sequence fill a wave without a split, so
   * each CTA walks its whole sequence: 17-18 key blocks for BF16, 9-10 for the quantized latents.
   * The instance's score units (two m16 head tiles, 16 tokens) and its P·C over two head tiles
   * differ from the default's; an error in either gives errors of the order of the output.
   */
  @ParameterizedTest
  @CsvSource({"BF16,1100,1030", "INT8,600,530",
      "FP8,600,530", "INT4,600,530"})
  void tensorCoreMlaTakesTheWidestSlabOverLongKeyRanges(String format, int len0, int len1) {
    KernelChoice widest = KernelChoice.mlaMma(DType.BF16, 32, 1, 1024, 1024, 16, 16, 512,
        ctx.sharedMemoryOptin(), true);
    assumeTrue(widest != null && widest.headsPerCta() == 32,
        "a 32-head slab at L 1024 does not fit this device's " + ctx.sharedMemoryOptin()
            + " bytes of shared memory per block (" + ctx.describe() + ")");
    boolean bf16 = format.equals("BF16");
    Plan plan = mlaAgainstScalar(MlaShape.mha2mla(32, 32, 128, 8, 32),
        bf16 ? CacheFormat.plain(DType.BF16) : CacheFormat.parse(format, 64, 0, false), true,
        true, PagedAttention.DEFAULT_MAX_CLUSTER, bf16 ? BF16_TOLERANCE : FP16_TOLERANCE, 64,
        len0, len1);
    assertTrue(plan.kernel().endsWith("_m2_l16_t16"), plan.toString());
  }

  /**
   * The quantized kernel normalizes each token by its largest scale and keeps O in units of the
   * largest one seen so far (mla4j_mla_mma.h). Here token magnitudes span 2^-5 to 2^4, rising
   * along each sequence (so that every split's running exponent grows tile by tile and O is
   * rescaled), and each token's 32-column blocks a further 2^0 to 2^-3; queries are N(0, 1/256),
   * so that scores stay at a few units (the bound's premise). Every output row must meet the
   * FP16 bound against its own largest magnitude. Dropping the rescale, or a token's
   * 2^E_t on its score or its probability, gives errors of the order of the row.
   */
  @ParameterizedTest
  @CsvSource({"INT8,64,16", "FP8,32,16", "INT8,128,64",
      "INT4,64,16", "INT4,32,64"})
  void tensorCoreMlaReadsQuantizedTokensOfSpreadScales(String quant, int group, int dKv) {
    MlaShape s = MlaShape.mha2mla(32, 32, 128, 8, dKv);
    Plan plan = mlaAgainstScalar(s, CacheFormat.parse(quant, group, 0, false), true, true,
        PagedAttention.DEFAULT_MAX_CLUSTER, FP16_TOLERANCE, 1, Latents.SPREAD, 70, 1000, 5, 2100);
    assertTrue(plan.kernel().contains(quant.toLowerCase(java.util.Locale.ROOT)), plan.kernel());
    assertTrue(plan.splits() > 1, plan.toString());
  }

  /**
   * Rope keys quantized like the latent (CacheFormat.quantizeRopeKeys) run the quantized mma.sync
   * kernel's qrope instances (native/mla_mma_quant_rope.cu): each tile's rope codes leave with
   * its latent codes and are dequantized with them to FP16 under one exponent per token, and q_R
   * is FP16 under Q~'s row exponent, so the whole score has the latent's FP16 precision and the
   * quantized kernel's FP16 bound applies. The reference is the scalar backend reading the same
   * codes. Per-head keys with MHA and GQA groups of 2 and 16 (d_r 16; rope spans of 512, 256, 128
   * and 16 columns per slab; L 512, 1024 and 2048), DeepSeek's shared key of 64 with 32 and 128
   * heads (wgmma off, so 128 heads run the mma.sync kernel's 64-head slabs), spread token
   * magnitudes, and rows of one scale (one kv head, or one group of 64 over the shared key), whose
   * scales start at alternating halves of the 4-byte words they are copied in. INT4 (8-byte
   * chunks: a group's low nibbles and, min(G, d_r)/2 columns further, its high ones): per-head
   * keys of 16 (groups of 16), the shared key of 64 in one group and in two of 32. Per-head keys
   * of d_r 8 (models of d_h 64: SmolLM-1.7B's MHA at L 512 and 1024, and GQA groups of 4) run the
   * qrope8 instances, whose 16-code chunks hold two kv heads' segments under a scale each; a
   * chunk read under one of its two scales puts the other head's keys off by their scale ratio.
   * A wrong scale index, segment, exponent, row or stage gives errors of the order of the
   * output; rows past a sequence's end are poisoned codes.
   */
  @ParameterizedTest
  @CsvSource({"INT8,64,0,false", "FP8,64,0,false",
      "FP8,32,1,false", "INT8,128,2,false", "FP8,64,3,false", "INT8,32,4,false",
      "INT8,64,0,true", "FP8,64,5,true", "INT8,64,6,false", "FP8,64,6,true", "INT4,64,0,false",
      "INT4,32,1,true", "INT4,128,2,false", "INT4,64,3,true", "INT4,64,4,false",
      "INT4,32,6,true", "INT4,64,5,false", "INT8,64,7,false", "FP8,32,7,true", "INT4,64,7,true",
      "INT8,128,8,true", "FP8,64,8,false", "INT4,32,8,false", "INT8,32,9,false",
      "INT4,128,9,true"})
  void tensorCoreMlaReadsQuantizedRopeKeys(String quant, int group, int which, boolean spread) {
    MlaShape s = switch (which) {
      case 0 -> MlaShape.mha2mla(32, 32, 64, 8, 16);
      case 1 -> MlaShape.mha2mla(32, 16, 64, 8, 32);
      case 2 -> MlaShape.mha2mla(32, 32, 128, 8, 32);
      case 3 -> MlaShape.mha2mla(32, 32, 128, 8, 64);
      case 4 -> new MlaShape(32, 1, 64, 512, RopeKeyLayout.SHARED, 0.06f);
      case 5 -> MlaShape.mha2mla(16, 1, 64, 8, 512);
      case 6 -> new MlaShape(128, 1, 64, 512, RopeKeyLayout.SHARED, 0.05f);
      case 7 -> MlaShape.mha2mla(32, 32, 64, 4, 16);  // d_r 8
      case 8 -> MlaShape.mha2mla(32, 8, 64, 4, 64);
      default -> MlaShape.mha2mla(32, 32, 64, 4, 32);
    };
    Plan plan = mlaAgainstScalar(s, CacheFormat.parse(quant, group, 0, true), true, false,
        PagedAttention.DEFAULT_MAX_CLUSTER, FP16_TOLERANCE, which == 1 ? 3 : 1,
        spread ? Latents.SPREAD : Latents.GAUSSIAN, 70, 1000, 5, 2100);
    assertTrue(plan.kernel().contains(quant.toLowerCase(java.util.Locale.ROOT)
        + (s.ropeDim() == 8 ? "_qrope8_" : "_qrope_")), plan.kernel());
    assertTrue(plan.splits() > 1, plan.toString());
  }

  /**
   * DeepSeek's shape (L 512, one shared rope key of 64) runs the wgmma kernel on an sm_90 device:
   * its operands in the 128B-swizzled layout, scores and softmax in warpgroup 0, P·C split over
   * both warpgroups' columns. One slab of 64 heads and two slabs of 64, under the BF16 bound of
   * the mma.sync kernel (same rounding of queries and probabilities); the same shape with wgmma
   * turned off keeps the mma.sync kernel's 64-head slab covered on that device. At scale 0.25 the
   * scores spread over ~9 log2 units, so a row's tile maximum often passes its reference maximum
   * by more than the wgmma kernel's slack of 2^8 and O must be rescaled (at 0.05 it never is).
   */
  @ParameterizedTest
  @CsvSource({"64,true,0.05", "128,true,0.05", "128,true,0.25",
      "128,false,0.05", "128,false,0.25"})
  void deepSeekShapeMatchesScalarOnEitherTensorCoreKernel(int heads, boolean wgmma, float scale) {
    assumeTrue(!wgmma || ctx.computeCapability() == 90,
        "the wgmma kernel needs an sm_90 device; this one is " + ctx.describe());
    MlaShape s = new MlaShape(heads, 1, 64, 512, RopeKeyLayout.SHARED, scale);
    String kernel = batchedMla(s, CacheFormat.plain(DType.BF16), true, wgmma, BF16_TOLERANCE);
    assertEquals(wgmma, kernel.contains("wgmma"), kernel);
  }

  /**
   * DeepSeek's shape over an INT8/FP8/INT4 latent runs the quantized wgmma kernel on an sm_90
   * device (native/mla_wgmma_quant.cu: each warpgroup dequantizes half of each 64-token tile into
   * the FP16 swizzled layout with one exponent per half; O in units of the largest so far). 64 and
   * 128 heads, groups 32/64/128; INT4's threads widen 8-byte chunks of one group's low and high
   * nibbles, half of them high run first, so a swapped run or nibble lands values G/2 columns off.
   * At scale 0.05 the scores stay at a few units and the FP16 bound of the quantized mma.sync
   * kernel holds. At scale 0.25 rows' maxima move and O is rescaled, but the scores reach ~10 log2
   * units and the rope part's BF16 rounding (q_R and k_R are BF16, as in the mma.sync kernel) moves
   * them by ~2^-8 of that: there the BF16 bound, as for the BF16 wgmma kernel at 0.25 (measured on
   * the H100: 0.43-0.89% of the output's magnitude, against 3.1%). Spread token magnitudes (2^-5 to
   * 2^4, rising along each sequence, each row held to the bound against its own largest magnitude)
   * make the halves' exponents grow, so O's units change. A wrong exponent, scale group, swizzle or
   * stage gives errors of the order of the output.
   */
  @ParameterizedTest
  @CsvSource({"INT8,64,64,0.05,false", "FP8,32,128,0.25,false",
      "INT8,128,128,0.25,true", "FP8,64,64,0.05,true", "INT8,32,128,0.05,true",
      "INT4,64,64,0.05,false", "INT4,32,128,0.25,false", "INT4,128,128,0.05,true",
      "INT4,64,128,0.25,true"})
  void deepSeekShapeReadsQuantizedLatentOnWgmma(String quant, int group, int heads, float scale,
      boolean spread) {
    deepSeekOnQuantizedWgmma(CacheFormat.parse(quant, group, 0, false), heads, scale, spread);
  }

  /** DeepSeek's shape at {@code heads}, 1 and 3 query tokens, on the quantized wgmma kernel. */
  private void deepSeekOnQuantizedWgmma(CacheFormat format, int heads, float scale,
      boolean spread) {
    assumeTrue(ctx.computeCapability() == 90,
        "the wgmma kernels need an sm_90 device; this one is " + ctx.describe());
    MlaShape s = new MlaShape(heads, 1, 64, 512, RopeKeyLayout.SHARED, scale);
    for (int tokens : new int[] {1, 3}) {
      Plan plan = mlaAgainstScalar(s, format, true, true, PagedAttention.DEFAULT_MAX_CLUSTER,
          scale > 0.1f ? BF16_TOLERANCE : FP16_TOLERANCE, tokens,
          spread ? Latents.SPREAD : Latents.GAUSSIAN, 70, 1000, 5, 4100);
      assertEquals("mla4j_mla_wgmma_" + format.quantization().name().toLowerCase(
          java.util.Locale.ROOT) + (format.quantizeRopeKeys() ? "_qrope" : "") + "_h64_l512_r64",
          plan.kernel());
      assertTrue(plan.splits() > 1, plan.toString());
    }
  }

  /**
   * DeepSeek's shape with its rope keys quantized like the latent runs the quantized wgmma
   * kernel's qrope instances on an sm_90 device: each warpgroup widens its half's rope codes into
   * the rope block as FP16 under the half's exponent (taken over the latent's and the rope
   * keys' scales), q_R is FP16 under Q~'s row exponent, and the rope products join the latent's
   * accumulators. The rope key's 64 columns are one group (G 64, 128) or two (G 32); INT4's odd
   * rows store their high-nibble run first. Rows past a sequence's end hold poisoned codes and
   * scales, which must not reach the exponent. Bounds as for the BF16 rope keys above.
   */
  @ParameterizedTest
  @CsvSource({"INT8,64,64,0.05,false", "FP8,32,128,0.25,false",
      "INT4,64,64,0.05,false", "INT4,32,128,0.05,true", "INT4,128,128,0.25,true",
      "INT8,32,128,0.05,true", "FP8,128,64,0.05,true"})
  void deepSeekShapeReadsQuantizedRopeKeysOnWgmma(String quant, int group, int heads, float scale,
      boolean spread) {
    deepSeekOnQuantizedWgmma(CacheFormat.parse(quant, group, 0, true), heads, scale, spread);
  }

  /**
   * The quantized wgmma kernel dequantizes a tile in two halves of 32 tokens, one per warpgroup,
   * each with the exponent of its own largest scale. With every odd 32-token block of the latent
   * 2^-6 smaller than its neighbours, the halves' exponents differ by about 6: a kernel that
   * scaled one half's scores or probabilities by the other half's exponent would be off by 2^6 on
   * half the tokens; each output row is held to the FP16 bound.
   */
  @ParameterizedTest
  @CsvSource({"INT8,64,64", "FP8,128,128", "INT4,32,128"})
  void deepSeekWgmmaGivesEachHalfTileItsOwnExponent(String quant, int group, int heads) {
    assumeTrue(ctx.computeCapability() == 90,
        "the wgmma kernels need an sm_90 device; this one is " + ctx.describe());
    MlaShape s = new MlaShape(heads, 1, 64, 512, RopeKeyLayout.SHARED, 0.05f);
    Plan plan = mlaAgainstScalar(s, CacheFormat.parse(quant, group, 0, false), true, true,
        PagedAttention.DEFAULT_MAX_CLUSTER, FP16_TOLERANCE, 1, Latents.SPREAD_ODD_HALVES_LOW,
        70, 1000, 5, 4100);
    assertEquals("mla4j_mla_wgmma_" + quant.toLowerCase(java.util.Locale.ROOT) + "_h64_l512_r64",
        plan.kernel());
  }

  private static final double FP32_TOLERANCE = 1e-4;
  private static final double BF16_TOLERANCE = 8 * Math.pow(2, -8);
  private static final double FP16_TOLERANCE = 8 * Math.pow(2, -11);

  private void batchedMla(MlaShape s, boolean tensorCore, double tolerance) {
    batchedMla(s, CacheFormat.plain(DType.BF16), tensorCore, tolerance);
  }

  private String batchedMla(MlaShape s, CacheFormat format, boolean tensorCore,
      double tolerance) {
    return batchedMla(s, format, tensorCore, true, tolerance);
  }

  /** Returns the kernel that ran. */
  private String batchedMla(MlaShape s, CacheFormat format, boolean tensorCore, boolean wgmma,
      double tolerance) {
    String kernel = null;
    for (int tokens : new int[] {1, 3}) {
      Plan plan = mlaAgainstScalar(s, format, tensorCore, wgmma, PagedAttention.DEFAULT_MAX_CLUSTER,
          tolerance, tokens, 70, 1000, 5, 4100);
      assertTrue(plan.splits() > 1, "the batch should be split over the key range");
      kernel = plan.kernel();
    }
    return kernel;
  }

  /** What a plan ran: its kernel, key-range splits and CTAs per cluster. */
  private record Plan(String kernel, int splits, int cluster) {}

  /**
   * Absorbed MLA of {@code tokens} query tokens at the end of each sequence of {@code lens}, over
   * one device pool with the blocks shuffled, against the scalar backend.
   */
  private Plan mlaAgainstScalar(MlaShape s, CacheFormat format, boolean tensorCore,
      boolean wgmma, int maxCluster, double tolerance, int tokens, int... lens) {
    return mlaAgainstScalar(s, format, tensorCore, wgmma, maxCluster, tolerance, tokens,
        Latents.GAUSSIAN, lens);
  }

  /** How a test fills the latent cache. */
  private enum Latents {
    /** N(0,1). */
    GAUSSIAN,
    /** Magnitudes 2^-5..2^4 rising along the sequence (Caches.fillSpread). */
    SPREAD,
    /** SPREAD with every odd 32-token block 2^-6 smaller. */
    SPREAD_ODD_HALVES_LOW;

    boolean spread() {
      return this != GAUSSIAN;
    }
  }

  /**
   * latents: spread magnitudes (Caches.fillSpread) hold each output row to the bound against its
   * own largest magnitude.
   */
  private Plan mlaAgainstScalar(MlaShape s, CacheFormat format, boolean tensorCore,
      boolean wgmma, int maxCluster, double tolerance, int tokens, Latents latents, int... lens) {
    boolean spread = latents.spread();
    RopeKeyLayout layout = s.ropeKeys();
    QuantizedLayout quant = format.isQuantized()
        ? new QuantizedLayout(format.quantization(), 1, s.latentDim(), format.groupSize()) : null;
    QuantizedLayout ropeQuant = format.quantizeRopeKeys()
        ? new QuantizedLayout(format.quantization(),
            layout == RopeKeyLayout.SHARED ? 1 : s.kvHeads(), s.ropeDim(), format.groupSize())
        : null;
    Seeds.Case c = Seeds.forCase("cuda batched mla " + layout + " T=" + tokens
        + (tensorCore ? " mma " + s : "") + (quant != null ? " " + format : "")
        + (lens.length == 4 && lens[3] == 4100 ? "" : " lens " + java.util.Arrays.toString(lens))
        + (spread ? " " + latents : ""));
    Batch batch = Batch.of(c, tokens, lens);
    int rowsPerSeq = tokens * s.heads();
    try (Arena arena = Arena.ofShared(); Backend scalar = Backends.scalar(1);
        CudaStream st = ctx.newStream();
        DevicePagedCache dc = new DevicePagedCache(ctx, DType.BF16, batch.totalBlocks(),
            quant != null ? DevicePagedCache.Part.quantized(quant)
                : DevicePagedCache.Part.plain(s.latentDim()),
            ropeQuant != null ? DevicePagedCache.Part.quantized(ropeQuant)
                : DevicePagedCache.Part.plain(s.ropeKeyWidth()));
        PagedAttention plan = tensorCore
            ? PagedAttention.mlaTensorCore(ctx, s, dc, batch.lens().length, tokens,
                batch.maxKeys(), wgmma, maxCluster)
            : PagedAttention.mla(ctx, s, dc, batch.lens().length, tokens, batch.maxKeys())) {
      assertEquals(tensorCore, plan.kernel().contains("mma"), plan.kernel());
      List<LatentCache> caches = new ArrayList<>();
      List<Tensor> qr = new ArrayList<>();
      List<Tensor> ql = new ArrayList<>();
      List<Tensor> ref = new ArrayList<>();
      int[] first = new int[batch.lens().length];
      for (int q = 0; q < batch.lens().length; q++) {
        LatentCache cache = new LatentCache(s, 1, format, batch.lens()[q]);
        if (spread) {
          Caches.fillSpread(arena, c, cache, 0, batch.lens()[q],
              latents == Latents.SPREAD_ODD_HALVES_LOW ? 6 : 0);
        } else {
          Caches.fill(arena, c, cache, 0, batch.lens()[q], 0);
        }
        caches.add(cache);
        first[q] = batch.lens()[q] - tokens;
        qr.add(Inputs.gaussian(arena, c, DType.F32, rowsPerSeq, s.ropeDim(), 1));
        // spread latents reach 2^4: queries of 1/16 keep scores at a few units, as the bound wants
        ql.add(Inputs.gaussian(arena, c, DType.F32, rowsPerSeq, s.latentDim(),
            spread ? 1.0 / 16 : 1));
        Tensor out = Tensor.allocate(arena, DType.F32, rowsPerSeq, s.latentDim());
        scalar.mlaAttention(s, qr.get(q), ql.get(q), cache, 0, first[q], out);
        ref.add(out);
      }
      if (quant != null) {
        uploadQuantizedLatent(arena, st, dc, batch, caches);
      } else {
        upload(arena, st, dc, batch, 2, (q, bp) -> bp[1] == 0
            ? caches.get(q).latentBlock(0, bp[0]) : caches.get(q).ropeBlock(0, bp[0]));
      }
      int[] flat = java.util.Arrays.stream(batch.table()).flatMapToInt(java.util.Arrays::stream).toArray();
      long outBytes = 4L * batch.lens().length * rowsPerSeq * s.latentDim();
      try (DeviceBuffer table = ints(arena, st, flat); DeviceBuffer dfirst = ints(arena, st, first);
          DeviceBuffer qa = floats(arena, st, ql); DeviceBuffer qb = floats(arena, st, qr);
          DeviceBuffer out = ctx.allocate(outBytes)) {
        out.fill32(st, Float.floatToRawIntBits(Float.NaN));
        plan.launch(st, qa.pointer(), qb.pointer(), table.pointer(), batch.maxBlocks(),
            dfirst.pointer(), out.pointer());
        MemorySegment got = arena.allocate(outBytes, 16);
        out.download(st, 0, got);
        st.synchronize();
        String what = plan.kernel() + " " + s + " T=" + tokens + " splits=" + plan.splits()
            + " cluster=" + plan.cluster();
        compare(what, ref, got, s.latentDim(), tolerance, spread);
        return new Plan(plan.kernel(), plan.splits(), plan.cluster());
      } finally {
        caches.forEach(LatentCache::close);
      }
    }
  }

  /**
   * On sm_90 the BF16 mma.sync MLA kernel launched in clusters of C splits combines their partial
   * states through distributed shared memory before the merge. One query token per sequence and
   * maxKeys of 16 or 8 blocks give one block per split (16 or 8 splits, see
   * PagedAttention.blocksPerSplit), so C = 2, 4 and 8 all divide them: the merge then reads 8 to 2
   * combined states, or none when one cluster holds every split of a row (8 splits, C = 8: the
   * kernel writes the normalized output). The 5- and 300-token sequences leave whole clusters
   * without a key (their maximum stays -inf). Llama-2-7B MHA2MLA shapes d_kv 16 (one 32-head slab)
   * and d_kv 64 (two 16-head slabs, O of [16][2048] through shared memory).
   */
  @ParameterizedTest
  @CsvSource({"2,16", "4,16", "8,16", "8,64", "4,64", "2,64"})
  void clusterCombinesSplitsOnChipWithinBf16Tolerance(int cluster, int dKv) {
    assumeTrue(ctx.computeCapability() >= 90,
        "thread-block clusters need an sm_90 device; this one is " + ctx.describe());
    MlaShape s = MlaShape.mha2mla(32, 32, 128, 8, dKv);
    for (int[] lens : new int[][] {{5, 700, 1024}, {300, 512}}) {
      Plan plan = mlaAgainstScalar(s, CacheFormat.plain(DType.BF16), true, true, cluster,
          BF16_TOLERANCE, 1, lens);
      int maxBlocks = (java.util.Arrays.stream(lens).max().orElseThrow() + 63) / 64;
      assertEquals(maxBlocks, plan.splits(), plan.toString());
      // C itself where the device runs enough clusters of C at once for this grid, else a
      // smaller one (PagedAttention.clusterSize): the combine ran either way
      assertTrue(plan.cluster() > 1 && plan.cluster() <= cluster, plan.toString());
    }
  }

  /**
   * MHA/GQA decode over INT8, FP8 and INT4 keys and values runs the memory-bound kernel's
   * quantized instances: each lane widens its 8 columns' codes exactly (integer and FP32 add or
   * multiply, no conversion instruction), the K scale multiplies its partial dot product and the
   * V scale the probability, so the result is the scalar backend's on the same codes to FP32
   * precision. d_h 64 and 128; MHA and GQA groups of 2, 4 and 16 (3: gqaGroupsOfThreeMatchScalar);
   * groups of 8 (one scale per lane), 16, 32, 64 and 128; INT4 lanes reading the low and the high
   * nibble halves of a group; 1 and 3 query tokens; rows past a sequence's end hold poisoned codes
   * and scales. A lane reading its neighbour's scale or nibble half, or E4M3's exponent bits off
   * by one, gives errors of the order of the output. {@code lanes}: the columns per lane the case
   * must run (16 where a CTA has at most 2 heads and groups hold 16 columns: 16 code bytes, or
   * both nibbles of 8 bytes, whose high half lies G/2 columns on).
   */
  @ParameterizedTest
  @CsvSource({"INT8,64,8,2,64,1,8", "INT8,8,32,32,128,3,8",
      "FP8,32,8,2,64,1,8", "FP8,128,16,1,128,1,8", "INT4,16,8,2,64,3,8", "INT4,64,16,4,128,1,8",
      "INT4,128,32,32,128,1,16", "FP8,64,4,4,128,3,16", "INT8,16,4,1,64,1,8",
      "INT8,32,8,4,64,3,16", "INT8,128,4,4,128,1,16", "FP8,16,16,8,64,3,16",
      "INT4,16,4,2,128,1,16", "INT4,32,2,2,64,3,16"})
  void quantizedMhaDecodeMatchesScalar(String quant, int group, int heads, int kvHeads,
      int headDim, int tokens, int lanes) {
    MhaShape s = MhaShape.of(heads, kvHeads, headDim);
    String kernel = batchedMha(s, CacheFormat.parse(quant, group, 0, false), tokens, false,
        FP32_TOLERANCE, 3000, 65, 700, 4100);
    assertTrue(kernel.startsWith("mla4j_mha_decode_" + quant.toLowerCase(java.util.Locale.ROOT)
        + (lanes == 16 ? "_w16" : "") + "_d" + headDim), kernel);
  }

  /**
   * GQA groups of 3 (SmolLM-135M/360M) in BF16 and in each quantized format: one CTA reads each
   * K/V row for its 3 heads (8-column lanes when quantized). Left to the library, a grid too
   * small to fill the GPU even when split takes a CTA per head instead, and a large one the
   * group ({@code KernelChoice.mhaHeadsPerCta}).
   */
  @ParameterizedTest
  @ValueSource(strings = {"BF16", "INT8", "FP8", "INT4"})
  void gqaGroupsOfThreeMatchScalar(String format) {
    CacheFormat f = format.equals("BF16") ? CacheFormat.plain(DType.BF16)
        : CacheFormat.parse(format, 32, 0, false);
    String fmt = format.toLowerCase(java.util.Locale.ROOT);
    assertEquals("mla4j_mha_decode_" + fmt + "_d64_g3",
        batchedMha(MhaShape.of(9, 3, 64), f, 1, false, FP32_TOLERANCE, 3000, 65, 700));
    assertEquals("mla4j_mha_decode_" + fmt + "_d128_g3",
        batchedMha(MhaShape.of(6, 1, 128), f, 3, false, FP32_TOLERANCE, 4100, 130));
    mhaHeadsPerCta = 0;
    // 3000 keys: 47 blocks, 6 splits; T = 4 and 9 heads: 12 CTAs a sequence
    int[] many = new int[ctx.multiprocessors() / 48 + 1];
    java.util.Arrays.fill(many, 3000);
    many[0] = 2900;
    assertTrue(batchedMha(MhaShape.of(9, 3, 64), f, 4, false, FP32_TOLERANCE, many)
        .endsWith("_g3"), "a grid that fills the GPU keeps the group");
    assertTrue(batchedMha(MhaShape.of(9, 3, 64), f, 1, false, FP32_TOLERANCE, 65, 3000)
        .endsWith("_g1"), "batch 2: a CTA per head");
  }

  @Test
  void batchedGqaOverScatteredBlocksMatchesScalar() {
    String kernel = batchedMha(MhaShape.of(8, 2, 64), DType.F16, 2, false, FP32_TOLERANCE, 3000,
        65, 700);
    assertTrue(kernel.contains("decode"), kernel);
    // the host API's plan stays FP32 whatever the chunk
    kernel = batchedMha(MhaShape.of(8, 2, 64), DType.F16, 20, false, FP32_TOLERANCE, 3000, 90, 700);
    assertTrue(kernel.contains("decode"), kernel);
  }

  /**
   * The tensor-core prefill kernel rounds queries and probabilities to the cache type (BF16 or
   * FP16) for the MMA, so its bound against the FP32 scalar backend is the BF16 one (see
   * tensorCoreMlaMatchesScalarWithinBf16Tolerance) or that bound at FP16's precision. Cases:
   * GQA groups of 4 and 8 (token-major rows mixing heads in one m16 tile), a last row tile half
   * empty (T·group not a multiple of 64), a sequence whose chunk starts at position 0 (every row
   * masked differently in the first tile), one that is only the chunk, d_h 64 and 128, both
   * dtypes, and split-KV (the longest sequences are split over several key ranges).
   */
  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3})
  void tensorCorePrefillMatchesScalar(int which) {
    String kernel = switch (which) {
      case 0 -> batchedMha(MhaShape.of(8, 2, 64), DType.F16, 20, true, FP16_TOLERANCE, 3000, 90, 700);
      case 1 -> batchedMha(MhaShape.of(4, 4, 128), DType.BF16, 70, true, BF16_TOLERANCE, 4100, 75, 1000);
      case 2 -> batchedMha(MhaShape.of(16, 2, 128), DType.BF16, 9, true, BF16_TOLERANCE, 2000, 9, 500);
      default -> batchedMha(MhaShape.of(4, 4, 64), DType.F16, 64, true, FP16_TOLERANCE, 130, 64, 3000);
    };
    assertTrue(kernel.contains("prefill"), kernel);
  }

  /**
   * MHA/GQA of {@code tokens} query tokens at the end of each sequence of {@code lens}, over one
   * device pool with the blocks shuffled, against the scalar backend, through
   * {@link PagedAttention#mhaTensorCore} or {@link PagedAttention#mha}; returns the kernel's name.
   */
  private String batchedMha(MhaShape s, DType dtype, int tokens, boolean tensorCore,
      double tolerance, int... lens) {
    return batchedMha(s, CacheFormat.plain(dtype), tokens, tensorCore, tolerance, lens);
  }

  /**
   * Query heads per CTA that {@link #batchedMha} asks of the MHA decode kernel: -1 (the default)
   * for the whole GQA group, so every case runs the instance it names whatever the GPU; 0 for
   * the choice the library makes by the grid's size ({@code KernelChoice.mhaHeadsPerCta}).
   */
  private int mhaHeadsPerCta = -1;

  /** {@link #batchedMha} over a cache of {@code format}: plain, or K and V quantized alike. */
  private String batchedMha(MhaShape s, CacheFormat format, int tokens, boolean tensorCore,
      double tolerance, int... lens) {
    DType dtype = format.dtype();
    QuantizedLayout quant = format.isQuantized() ? new QuantizedLayout(format.quantization(),
        s.kvHeads(), s.headDim(), format.groupSize()) : null;
    Seeds.Case c = Seeds.forCase("cuda batched mha " + s + " " + dtype + " T=" + tokens
        + (quant != null ? " " + format : ""));
    Batch batch = Batch.of(c, tokens, lens);
    int rowsPerSeq = tokens * s.heads();
    try (Arena arena = Arena.ofShared(); Backend scalar = Backends.scalar(1);
        CudaStream st = ctx.newStream();
        DevicePagedCache dc = quant == null
            ? new DevicePagedCache(ctx, dtype, batch.totalBlocks(), s.kvWidth(), s.kvWidth())
            : new DevicePagedCache(ctx, DType.BF16, batch.totalBlocks(),
                DevicePagedCache.Part.quantized(quant), DevicePagedCache.Part.quantized(quant));
        PagedAttention plan = tensorCore
            ? PagedAttention.mhaTensorCore(ctx, s, dc, batch.lens().length, tokens,
                batch.maxKeys(), mhaHeadsPerCta < 0 ? s.groupSize() : mhaHeadsPerCta)
            : PagedAttention.mha(ctx, s, dc, batch.lens().length, tokens, batch.maxKeys(),
                mhaHeadsPerCta < 0 ? s.groupSize() : mhaHeadsPerCta)) {
      List<KvCache> caches = new ArrayList<>();
      List<Tensor> qs = new ArrayList<>();
      List<Tensor> ref = new ArrayList<>();
      int[] first = new int[batch.lens().length];
      for (int q = 0; q < batch.lens().length; q++) {
        KvCache cache = new KvCache(s, 1, format, batch.lens()[q]);
        Caches.fill(arena, c, cache, 0, batch.lens()[q], 0);
        caches.add(cache);
        first[q] = batch.lens()[q] - tokens;
        qs.add(Inputs.gaussian(arena, c, DType.F32, rowsPerSeq, s.headDim(), 1));
        Tensor out = Tensor.allocate(arena, DType.F32, rowsPerSeq, s.headDim());
        scalar.mhaAttention(s, qs.get(q), cache, 0, first[q], out);
        ref.add(out);
      }
      if (quant != null) {
        uploadBlocks(arena, st, dc, batch, (staging, base, q, b, valid) -> {
          stageCodes(staging, base, dc, 0, caches.get(q).keyCodes(0, b), valid);
          stageCodes(staging, base, dc, 1, caches.get(q).valueCodes(0, b), valid);
        });
      } else {
        upload(arena, st, dc, batch, 2, (q, bp) -> bp[1] == 0
            ? caches.get(q).keyBlock(0, bp[0]) : caches.get(q).valueBlock(0, bp[0]));
      }
      int[] flat = java.util.Arrays.stream(batch.table()).flatMapToInt(java.util.Arrays::stream).toArray();
      long outBytes = 4L * batch.lens().length * rowsPerSeq * s.headDim();
      try (DeviceBuffer table = ints(arena, st, flat); DeviceBuffer dfirst = ints(arena, st, first);
          DeviceBuffer qa = floats(arena, st, qs); DeviceBuffer out = ctx.allocate(outBytes)) {
        out.fill32(st, Float.floatToRawIntBits(Float.NaN));
        plan.launch(st, qa.pointer(), 0L, table.pointer(), batch.maxBlocks(), dfirst.pointer(),
            out.pointer());
        MemorySegment got = arena.allocate(outBytes, 16);
        out.download(st, 0, got);
        st.synchronize();
        assertTrue(plan.splits() > 1, "the batch should be split over the key range");
        compare(plan.kernel() + " " + s + " " + dtype + " T=" + tokens + " splits="
            + plan.splits(), ref, got, s.headDim(), tolerance);
        return plan.kernel();
      } finally {
        caches.forEach(KvCache::close);
      }
    }
  }

  @Test
  void noDeviceBufferLeaksAfterBackendCalls() {
    long before = DeviceBuffer.live();
    MhaShape s = MhaShape.of(4, 2, 32);
    Seeds.Case c = Seeds.forCase("cuda leak");
    try (Arena arena = Arena.ofShared(); Backend cuda = Backends.named("cuda", 1);
        KvCache cache = new KvCache(s, 1, DType.BF16, 200)) {
      Caches.fill(arena, c, cache, 0, 200, 0);
      Tensor q = Inputs.gaussian(arena, c, DType.F32, s.heads(), s.headDim(), 1);
      cuda.mhaAttention(s, q, cache, 0, 199, Tensor.allocate(arena, DType.F32, s.heads(), s.headDim()));
    }
    assertEquals(before, DeviceBuffer.live());
  }
}
