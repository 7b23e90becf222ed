package dev.mla4j.cuda;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;

/**
 * Which attention kernel a {@link PagedAttention} plan launches, with its CTA shape: HG heads per
 * CTA, TK tokens per shared-memory tile, threads, dynamic shared memory, and how many CTAs of it
 * an SM holds (what the split count aims to fill), the fewest 64-token blocks per key-range split
 * and the most splits per SM (each split re-reads its queries and writes a partial output that the
 * merge kernel reads back), and, where known, how many CTAs of it an SM runs at once (0: not
 * known; then the split count aims at {@code ctasPerSm}, else it is chosen so that the last
 * wave of CTAs is nearly full). The fast kernels (native/mha_decode.cu,
 * native/mla_mma.cu) take only the shapes they were instantiated for; {@code null} means "use
 * the generic kernel". {@code queryRows} > 0 marks a prefill kernel whose CTA takes that many
 * (token, head) query rows of one kv head across the tokens of a sequence (grid: splits x
 * row tiles·n_kv x sequences) instead of the heads of one query token.
 */
record KernelChoice(String kernel, int headsPerCta, int tileTokens, int threads, int sharedBytes,
    int ctasPerSm, int minBlocksPerSplit, int maxSplitsPerSm, int residentPerSm, int queryRows) {

  /** A per-token kernel: one CTA per (split, head group, query token). */
  KernelChoice(String kernel, int headsPerCta, int tileTokens, int threads, int sharedBytes,
      int ctasPerSm, int minBlocksPerSplit, int maxSplitsPerSm, int residentPerSm) {
    this(kernel, headsPerCta, tileTokens, threads, sharedBytes, ctasPerSm, minBlocksPerSplit,
        maxSplitsPerSm, residentPerSm, 0);
  }

  /** Head dims of the MHA fast kernel (template D). */
  private static final int[] MHA_HEAD_DIMS = {64, 128};
  /** Query heads per MHA CTA (template G), largest first. */
  private static final int[] MHA_GROUPS = {8, 4, 3, 2, 1};
  static final int MHA_THREADS = 128;
  /** 4-warp CTAs of <= 128 registers per thread: several per SM. */
  /**
   * 16, not the 8 that fit at once: measured on the H100 at batch 1, 32 heads, 32K/128K tokens,
   * 2.38/2.72 TB/s against 2.25/2.46 (native/NOTES.md, v2c).
   */
  static final int MHA_CTAS_PER_SM = 16;
  /**
   * With 16 CTAs per SM, short contexts or few heads would split into 1-4 block splits whose
   * fixed costs dominate (16 heads, 32K: 4 blocks per split 1.63 TB/s, 8 blocks 1.98 TB/s).
   */
  static final int MHA_MIN_BLOCKS_PER_SPLIT = 8;

  /** Query rows per CTA of the MHA prefill kernel (native/mha_prefill.cu): 4 warps of 16. */
  static final int PREFILL_ROWS = 64;
  static final int PREFILL_THREADS = 128;
  /** K/V tile stages and padding per shared row (halves) of native/mha_prefill.cu. */
  private static final int PREFILL_STAGES = 2;
  private static final int PREFILL_PAD = 8;
  /** Two 128-thread CTAs of ~200 registers per SM (__launch_bounds__(128, 2)). */
  static final int PREFILL_CTAS_PER_SM = 2;
  /**
   * Query rows (T·group) per kv head from which a chunk takes the prefill kernel: one warp's
   * m16 tile. Below that the decode kernel, which reads the keys once per query token, wastes
   * less than the prefill kernel's empty MMA rows.
   */
  static final int PREFILL_MIN_ROWS = 16;

  static final int MLA_THREADS = 256;
  private static final int MLA_WARPS = MLA_THREADS / 32;
  /** 64-column latent slices per warp set (template LW = L / 64). */
  private static final int[] MLA_LW = {8, 16, 32};
  /** m16 head tiles per CTA (template MT), largest first; MT·LW <= 32 keeps O in registers. */
  private static final int[] MLA_MT = {4, 2, 1};
  private static final int MLA_MAX_ACC = 32;
  private static final int MLA_PAD = 8;
  private static final int MLA_STAGES = 2;
  /** One 256-thread CTA of ~230 registers per SM; 2 so that the last wave is short. */
  static final int MLA_CTAS_PER_SM = 2;
  /**
   * At most one split per SM: at batch 1 the 2-per-SM target made 256 splits whose partials and
   * merge dominated (32K: 436 against 201 us; 128K: 616 against 380 us, native/NOTES.md v2c).
   */
  static final int MLA_MAX_SPLITS_PER_SM = 1;
  /**
   * __launch_bounds__(256, 1) and over half of the SM's shared memory: one CTA at a time. With
   * the 2-per-SM target, batch 64 ran 5 splits = 320 CTAs in 3 waves, the last 42% full.
   */
  static final int MLA_RESIDENT_PER_SM = 1;
  private static final int[] MLA_TILES = {64, 32, 16};
  /**
   * Tiles of 16 tokens pay the per-tile barriers and softmax twice as often: Llama-2-7B d_kv 32
   * with 32-head slabs (16-token tiles) ran at 2.13 TB/s (stop 3's kernel); a smaller slab with
   * 32-token tiles is the default (its CTAs re-read the latent, mostly from L2). Where each CTA
   * walks enough key blocks, PagedAttention takes the widest slab instead (stop 35).
   */
  private static final int MLA_MIN_TILE = 32;

  /** The memory-bound MHA/GQA kernel, or null when the shape or dtype has no instance. */
  static KernelChoice mha(DType dtype, int headDim, int group) {
    if (dtype == DType.F32 || !contains(MHA_HEAD_DIMS, headDim)) {
      return null;
    }
    return mhaDecode(dtype == DType.BF16 ? "bf16" : "f16", headDim, group);
  }

  /**
   * The memory-bound MHA/GQA kernel over INT8, FP8 or INT4 keys and values (native/mha_decode.cu's
   * quantized instances), or null: K and V must both be quantized alike, one segment of d_h per kv
   * head, in groups that divide d_h and hold whole 8-column lane chunks (G % 8 == 0; INT4
   * G % 16 == 0, so a chunk is 8 bytes of one nibble half of a group), d_h 64 or 128. With at
   * most 2 heads per CTA and G % 16 == 0 a lane takes 16 columns (the {@code _w16} instances: 16
   * code bytes, or both nibbles of 8 bytes, under one scale); more heads would spill its
   * registers.
   */
  static KernelChoice mhaQuantized(QuantizedLayout keys, QuantizedLayout values, int kvHeads,
      int headDim, int group) {
    if (keys == null || !keys.equals(values) || keys.quantization() == Quantization.NONE
        || keys.segments() != kvHeads || keys.segmentLength() != headDim
        || !contains(MHA_HEAD_DIMS, headDim)) {
      return null;
    }
    int g = keys.groupSize();
    boolean int4 = keys.quantization() == Quantization.INT4;
    if (headDim % g != 0 || g % (int4 ? 16 : 8) != 0) {
      return null;
    }
    String format = keys.quantization().name().toLowerCase(java.util.Locale.ROOT);
    KernelChoice narrow = mhaDecode(format, headDim, group);
    return narrow.headsPerCta() <= MHA_WIDE_LANE_MAX_HEADS && g % 16 == 0
        ? mhaDecode(format + "_w16", headDim, group) : narrow;
  }

  /** Heads per CTA up to which a 16-column lane's queries and accumulators fit its registers. */
  private static final int MHA_WIDE_LANE_MAX_HEADS = 2;

  /**
   * Heads per CTA to ask of the MHA decode kernel for a GQA group over {@code queryRows}
   * (seqs·T·n_h) query rows and {@code keyBlocks} 64-token key blocks on {@code sms} SMs. A CTA
   * reads each K/V row once for all its heads, so the whole group (its largest instance) reads
   * least. But a CTA per head gives more CTAs, which short batch-1 steps need. So the whole group
   * is taken only where its grid, split as far as the kernel splits
   * ({@link #MHA_MIN_BLOCKS_PER_SPLIT} blocks a split), still has 3 CTAs per 2 SMs; else 1.
   *
   * <p>H100, all heads per CTA against one, BF16 (native/results/h100-stop33-mha-gqa-ab.log and
   * h100-stop33-mha-heads-per-cta.log):
   * <ul>
   *   <li>batch 1 at 4K: GQA 4 42.4 against 32.6 us, GQA 8 63.3 against 31.2, groups of 3 19.4
   *       against 14.0;
   *   <li>batch 1 at 32K: GQA 8's 256 CTAs 77.8 against 90.3 us, groups of 3's 192 CTAs 27.0
   *       against 24.4 (the crossover lies between them);
   *   <li>batch 16 and 64: groups of 3 take 13-24% less time (BF16 and INT8).
   * </ul>
   */
  static int mhaHeadsPerCta(int group, long queryRows, int keyBlocks, int sms) {
    int g = largestMhaGroup(group);
    long splits = (keyBlocks + MHA_MIN_BLOCKS_PER_SPLIT - 1) / MHA_MIN_BLOCKS_PER_SPLIT;
    return g > 1 && 2 * (queryRows / g) * splits >= 3L * sms ? group : 1;
  }

  private static int largestMhaGroup(int group) {
    for (int cand : MHA_GROUPS) {
      if (group % cand == 0) {
        return cand;
      }
    }
    return 1;
  }

  /** Instance {@code format} of the MHA decode kernel at d_h, the largest G dividing group. */
  private static KernelChoice mhaDecode(String format, int headDim, int group) {
    int g = largestMhaGroup(group);
    return new KernelChoice("mla4j_mha_decode_" + format + "_d" + headDim + "_g" + g, g, 0,
        MHA_THREADS, 0, MHA_CTAS_PER_SM, MHA_MIN_BLOCKS_PER_SPLIT, Integer.MAX_VALUE, 0);
  }

  /** (key width, value width) of the prefill kernel's instances (native/mha_prefill.cu). */
  private static final int[][] PREFILL_DIMS = {{64, 64}, {128, 128}, {192, 128}};

  /**
   * The tensor-core MHA/GQA prefill kernel (queries and probabilities rounded to the cache's
   * BF16/FP16), or null when the dtype is FP32 or (keyDim, valueDim) has no instance: d_h 64 or
   * 128, or keys of 192 with values of 128 (DeepSeek's naive MLA form). Shared memory: K and V
   * tiles of one 64-token block, two stages, rows padded by 8 halves.
   */
  static KernelChoice mhaPrefill(DType dtype, int keyDim, int valueDim) {
    boolean known = false;
    for (int[] d : PREFILL_DIMS) {
      known |= d[0] == keyDim && d[1] == valueDim;
    }
    if (dtype == DType.F32 || !known) {
      return null;
    }
    int bytes = PREFILL_STAGES * PagedLayers.BLOCK_TOKENS
        * (keyDim + PREFILL_PAD + valueDim + PREFILL_PAD) * 2;
    String name = "mla4j_mha_prefill_" + (dtype == DType.BF16 ? "bf16" : "f16") + "_d" + keyDim
        + (keyDim == valueDim ? "" : "_v" + valueDim);
    return new KernelChoice(name, 0, PagedLayers.BLOCK_TOKENS, PREFILL_THREADS, bytes,
        PREFILL_CTAS_PER_SM, 1, Integer.MAX_VALUE, PREFILL_CTAS_PER_SM, PREFILL_ROWS);
  }

  /**
   * The tensor-core MLA kernel (BF16 queries and probabilities), or null when the cache is not
   * BF16, L is not 512/1024/2048, the latent part's rows are not exactly L wide (the kernel's
   * copies take L as a compile-time stride), n_h is not a multiple of 16, the rope widths break
   * 16-byte copies, or the tiles do not fit in {@code sharedLimit} bytes. The head slab is the
   * default one, or with {@code widestSlab} the largest at any tile size (see {@link #slab}),
   * which PagedAttention takes where its CTAs walk enough key blocks.
   */
  static KernelChoice mlaMma(DType dtype, int heads, int group, int latent, int latentRow,
      int ropeWidth, int ropeKvStride, int ropeRow, int sharedLimit, boolean widestSlab) {
    int lw = latent / 64;
    if (dtype != DType.BF16 || latent % 64 != 0 || !contains(MLA_LW, lw) || heads % 16 != 0
        || latentRow != latent) {
      return null;
    }
    if (ropeWidth % 8 != 0 || ropeKvStride % 8 != 0 || ropeRow % 8 != 0) {
      return null;
    }
    int[] slab = slab(heads, lw, sharedLimit, widestSlab, (hs, tk) -> mlaSharedBytes(hs, group,
        latent, ropeWidth, ropeKvStride, tk));
    return slab == null ? null : new KernelChoice("mla4j_mla_mma_bf16_m" + slab[0] + "_l" + lw
        + "_t" + slab[1], 16 * slab[0], slab[1], MLA_THREADS, slab[2], MLA_CTAS_PER_SM, 1,
        MLA_MAX_SPLITS_PER_SM, MLA_RESIDENT_PER_SM);
  }

  /** The largest MT·LW·TK of a BF16 MLA instance with the cluster combine (MLA_CLUSTER_MAX_WORK). */
  private static final int MLA_CLUSTER_MAX_WORK = 1024;

  /**
   * Whether this is a BF16 mma.sync MLA instance (native/mla_mma.cu) that, launched in clusters
   * on sm_90, combines its cluster's partial states on chip: it has the combine (MT·LW·TK at most
   * MLA_CLUSTER_MAX_WORK) and its O, [HS][L + 8] floats, fits in the shared memory below its m,
   * l and alpha rows.
   */
  boolean combinesInCluster(int latent) {
    if (!kernel.startsWith("mla4j_mla_mma_bf16_")) {
      return false;
    }
    int hs = headsPerCta();
    return hs / 16 * (latent / 64) * tileTokens() <= MLA_CLUSTER_MAX_WORK
        && (long) Float.BYTES * hs * (latent + MLA_PAD) <= sharedBytes() - 3L * Float.BYTES * hs;
  }

  /** The Hopper wgmma MLA kernel (native/mla_wgmma.cu) and its fixed shape. */
  static final String MLA_WGMMA = "mla4j_mla_wgmma_bf16_h64_l512_r64";
  private static final int WGMMA_HEADS = 64;
  private static final int WGMMA_LATENT = 512;
  private static final int WGMMA_ROPE = 64;
  /**
   * Its shared memory (WG_SHARED): Q~ [64][576] and two key tiles [64][576] in BF16, P [64][64],
   * alpha/m/l [64] floats, 4 rescale flags, and 1024 bytes of slack to align the swizzled blocks.
   */
  static final int MLA_WGMMA_SHARED = 2 * (WGMMA_HEADS + 2 * PagedLayers.BLOCK_TOKENS)
      * (WGMMA_LATENT + WGMMA_ROPE) + 2 * WGMMA_HEADS * 64 + 3 * 4 * WGMMA_HEADS + 16 + 1024;

  /**
   * The wgmma MLA kernel where {@code available} (an sm_90 device, its module loaded) and the
   * shape is DeepSeek's: BF16 cache, L 512 in rows of exactly L, one shared rope key of 64
   * columns, n_h a multiple of 64, and its shared memory within {@code sharedLimit}; else null.
   */
  static KernelChoice mlaWgmma(boolean available, DType dtype, int heads, int latent,
      int latentRow, int ropeWidth, int ropeKvStride, int ropeRow, int sharedLimit) {
    if (!available || dtype != DType.BF16 || latent != WGMMA_LATENT || latentRow != latent
        || heads % WGMMA_HEADS != 0 || ropeWidth != WGMMA_ROPE || ropeKvStride != 0
        || ropeRow % 8 != 0 || sharedLimit < MLA_WGMMA_SHARED) {
      return null;
    }
    return new KernelChoice(MLA_WGMMA, WGMMA_HEADS, PagedLayers.BLOCK_TOKENS, MLA_THREADS,
        MLA_WGMMA_SHARED, MLA_CTAS_PER_SM, 1, MLA_MAX_SPLITS_PER_SM, MLA_RESIDENT_PER_SM);
  }

  /**
   * The quantized wgmma kernel's shared memory (WQ_SHARED in native/mla_wgmma_quant.cu): the BF16
   * kernel's carve-up with the rows' factors [64] floats after alpha, m and l, and 16 ints (rescale
   * flags, warp maxima, the stages' exponents) in place of its 4 flags.
   */
  static final int MLA_WGMMA_QUANT_SHARED = MLA_WGMMA_SHARED - 16 + 4 * WGMMA_HEADS + 16 * 4;

  /**
   * The wgmma MLA kernel over an INT8, FP8 or INT4 latent (native/mla_wgmma_quant.cu) where
   * {@code available} and the shape is DeepSeek's (as {@link #mlaWgmma}) with the latent one
   * segment of code rows of exactly L bytes (INT4: L/2) in groups of 32, 64 or 128; else null.
   * Rope keys BF16 ({@code rope} null), or with {@code rope} codes of the latent's format in one
   * segment of d_r (the qrope instances: rows of d_r bytes, INT4 d_r/2); else null.
   */
  static KernelChoice mlaWgmmaQuantized(boolean available, QuantizedLayout latent,
      DType ropeDtype, QuantizedLayout rope, int heads, int ropeWidth, int ropeKvStride,
      int ropeRow, int sharedLimit) {
    Quantization q = latent.quantization();
    int g = latent.groupSize();
    boolean int4 = q == Quantization.INT4;
    boolean ropeFits = rope == null ? ropeDtype == DType.BF16 && ropeRow % 8 == 0
        : rope.quantization() == q && rope.groupSize() == g && rope.segments() == 1
            && rope.width() == WGMMA_ROPE
            && rope.rowBytes() == (int4 ? WGMMA_ROPE / 2 : WGMMA_ROPE);
    if (!available || q == Quantization.NONE || latent.segments() != 1
        || latent.width() != WGMMA_LATENT
        || latent.rowBytes() != (int4 ? WGMMA_LATENT / 2 : WGMMA_LATENT)
        || (g != 32 && g != 64 && g != 128) || !ropeFits
        || heads % WGMMA_HEADS != 0 || ropeWidth != WGMMA_ROPE || ropeKvStride != 0
        || sharedLimit < MLA_WGMMA_QUANT_SHARED) {
      return null;
    }
    return new KernelChoice("mla4j_mla_wgmma_" + q.name().toLowerCase(java.util.Locale.ROOT)
        + (rope == null ? "" : "_qrope") + "_h64_l512_r64", WGMMA_HEADS,
        PagedLayers.BLOCK_TOKENS, MLA_THREADS, MLA_WGMMA_QUANT_SHARED, MLA_CTAS_PER_SM, 1, MLA_MAX_SPLITS_PER_SM, MLA_RESIDENT_PER_SM);
  }

  /**
   * The tensor-core MLA kernel over an INT8, FP8 or INT4 latent (native/mla_mma_quant.cu and
   * mla_mma_quant_int4.cu: the BF16 kernel's template, each tile dequantized once in shared
   * memory), or null when the latent is not one segment of L 512/1024/2048 with groups of a
   * multiple of 32 that divide L into a multiple of 4 scales (code rows of exactly L bytes, L/2
   * for INT4), the rope keys break 16-byte copies, n_h is not a multiple of 16, or the tiles do
   * not fit in {@code sharedLimit} bytes. Rope keys are BF16 (or absent), or, with {@code rope}
   * not null, codes of the latent's format (native/mla_mma_quant_rope.cu, and the qrope
   * instances of mla_mma_quant_int4.cu): then d_r must be a multiple of 16, each kv head one
   * segment (or one shared key), and no slab's span of rope keys over 1024 columns (RCPL in
   * native/mla4j_mla_mma.h); INT4 rope keys also need groups of one length, min(G, d_r), that
   * divides d_r. Per-head rope keys of d_r 8 (models of d_h 64) take the qrope8 instances
   * (native/mla_mma_quant_rope8.cu), whose 16-code chunks hold two kv heads: n_kv·d_r and every
   * slab's first rope column and span must then be multiples of 16. Otherwise null.
   * {@code widestSlab} as for {@link #mlaMma}.
   */
  static KernelChoice mlaMmaQuantized(QuantizedLayout latent, DType ropeDtype,
      QuantizedLayout rope, int heads, int group, int ropeWidth, int ropeKvStride, int ropeRow,
      int sharedLimit, boolean widestSlab) {
    int l = latent.width();
    int lw = l / 64;
    int g = latent.groupSize();
    Quantization q = latent.quantization();
    boolean int4 = q == Quantization.INT4;
    if (q == Quantization.NONE || latent.segments() != 1
        || latent.rowBytes() != (int4 ? l / 2 : l) || l % 64 != 0 || !contains(MLA_LW, lw)
        || heads % 16 != 0 || g % 32 != 0 || l % g != 0 || (l / g) % 4 != 0
        || (rope == null && ropeWidth > 0 && ropeDtype != DType.BF16)
        || (rope != null && !quantizedRopeFits(rope, q, ropeWidth, ropeKvStride, ropeRow))) {
      return null;
    }
    if (ropeWidth % 8 != 0 || ropeKvStride % 8 != 0 || ropeRow % 8 != 0) {
      return null;
    }
    int[] slab = slab(heads, lw, sharedLimit, widestSlab, (hs, tk) -> mlaSharedBytes(hs, group,
        l, ropeWidth, ropeKvStride, tk) + mlaQuantExtraBytes(hs, tk));
    boolean rope8 = rope != null && ropeWidth == 8;
    if (slab == null
        || (rope != null && ropeSpan(heads, 16 * slab[0], group, ropeWidth, ropeKvStride)
            > MLA_QUANT_ROPE_SPAN)
        || (rope8 && !ropeChunksAligned(heads, 16 * slab[0], group, ropeWidth, ropeKvStride))) {
      return null;
    }
    return new KernelChoice("mla4j_mla_mma_" + q.name().toLowerCase(java.util.Locale.ROOT)
        + (rope == null ? "" : rope8 ? "_qrope8" : "_qrope") + "_m" + slab[0] + "_l" + lw + "_t"
        + slab[1],
        16 * slab[0], slab[1], MLA_THREADS, slab[2], MLA_CTAS_PER_SM, 1, MLA_MAX_SPLITS_PER_SM,
        MLA_RESIDENT_PER_SM);
  }

  /** The most rope columns of a slab the quantized-rope instances dequantize (32·RCPL·16). */
  static final int MLA_QUANT_ROPE_SPAN = 1024;

  /**
   * Whether quantized rope keys have the layout the qrope instances stage: the latent's format,
   * d_r a multiple of 16 (a 16-code chunk lies in one segment and one group), one segment per kv
   * head at a stride of d_r (or one shared key); INT4 groups all of one length. Or per-head keys
   * of d_r 8 in one group each (the qrope8 instances: a chunk is two segments), in code rows of a
   * multiple of 16 codes (16-byte copies of INT8/FP8 rows, 8-byte ones of INT4 rows).
   */
  private static boolean quantizedRopeFits(QuantizedLayout rope, Quantization latent,
      int ropeWidth, int ropeKvStride, int ropeRow) {
    boolean perHead = ropeKvStride == ropeWidth && rope.segments() * ropeWidth == ropeRow;
    boolean shared = ropeKvStride == 0 && rope.segments() == 1;
    // INT4: a lane's 8 code bytes must be one group's low and high nibbles (no short group)
    boolean groupsFit = latent != Quantization.INT4
        || ropeWidth % Math.min(rope.groupSize(), ropeWidth) == 0;
    boolean widthFits = ropeWidth % 16 == 0 || (ropeWidth == 8 && perHead && ropeRow % 16 == 0);
    return rope.quantization() == latent && ropeWidth > 0 && widthFits
        && rope.segmentLength() == ropeWidth && rope.groupSize() % 16 == 0 && groupsFit
        && (perHead || shared);
  }

  /**
   * Whether every slab of {@code hs} heads starts and ends its rope span on a 16-code chunk (the
   * qrope8 instances' lanes widen whole chunks of two d_r-8 segments).
   */
  static boolean ropeChunksAligned(int heads, int hs, int group, int ropeWidth, int ropeKvStride) {
    for (int h0 = 0; h0 < heads; h0 += hs) {
      int kv0 = h0 / group;
      int first = kv0 * ropeKvStride;
      int span = ((h0 + hs - 1) / group - kv0) * ropeKvStride + ropeWidth;
      if (first % 16 != 0 || span % 16 != 0) {
        return false;
      }
    }
    return true;
  }

  /** The widest span of rope columns any slab of {@code hs} heads stages (mla_mma's span). */
  static int ropeSpan(int heads, int hs, int group, int ropeWidth, int ropeKvStride) {
    int widest = 0;
    for (int h0 = 0; h0 < heads; h0 += hs) {
      int kv0 = h0 / group;
      widest = Math.max(widest, ((h0 + hs - 1) / group - kv0) * ropeKvStride + ropeWidth);
    }
    return widest;
  }

  /** Shared-memory bytes of a kernel for (heads per CTA, tile tokens). */
  private interface Carve {
    int bytes(int headsPerCta, int tileTokens);
  }

  /**
   * {m16 head tiles, tile tokens, shared bytes} of the largest head slab (MT·LW <= 32 keeps O in
   * registers, n_h a multiple of 16·MT) whose tiles hold at least MLA_MIN_TILE tokens in
   * {@code sharedLimit} bytes, else of the largest slab at any tile size; null when none fits.
   * With {@code widest}, the largest slab at any tile size.
   */
  private static int[] slab(int heads, int lw, int sharedLimit, boolean widest, Carve carve) {
    int smallest = MLA_TILES[MLA_TILES.length - 1];
    for (int minTile : widest ? new int[] {smallest} : new int[] {MLA_MIN_TILE, smallest}) {
      for (int mt : MLA_MT) {
        if (mt * lw > MLA_MAX_ACC || heads % (16 * mt) != 0) {
          continue;
        }
        for (int tk : MLA_TILES) {
          int bytes = carve.bytes(16 * mt, tk);
          if (tk >= minTile && bytes <= sharedLimit) {
            return new int[] {mt, tk, bytes};
          }
        }
      }
    }
    return null;
  }

  /**
   * What MlaSmem adds after alpha for a quantized latent (native/mla4j_mla_mma.h): 2^E_r [HS]
   * and E_t [TK]. Codes and scales are staged in the tile's FP16 rows.
   */
  private static int mlaQuantExtraBytes(int hs, int tk) {
    return Float.BYTES * hs + Integer.BYTES * tk;
  }

  /** The carve-up of MlaSmem in native/mla4j_mla_mma.h up to alpha, byte for byte. */
  private static int mlaSharedBytes(int hs, int group, int latent, int drh, int ropeKvStride,
      int tk) {
    int qs = latent + MLA_PAD;
    int spanMax = drh == 0 ? 0 : ((hs - 1) / group + 1) * ropeKvStride + drh;
    int rw = (spanMax + 15) & ~15;
    int rq = rw == 0 ? 0 : rw + MLA_PAD;
    int bf16 = hs * qs + hs * rq + MLA_STAGES * tk * qs + MLA_STAGES * tk * rq;
    int mt = hs / 16;
    int tokensPerUnit = mt == 2 && tk == 32 ? 32 : (mt * tk >= 32 ? 16 : 8);
    int units = mt * tk / tokensPerUnit;
    int kparts = units >= MLA_WARPS ? 1 : MLA_WARPS / units;
    int floats = kparts * hs * (tk + 4);
    int probs = hs * (tk + MLA_PAD);
    return 2 * bf16 + 4 * floats + 2 * probs + 4 * 3 * hs;
  }

  private static boolean contains(int[] values, int v) {
    for (int x : values) {
      if (x == v) {
        return true;
      }
    }
    return false;
  }
}
