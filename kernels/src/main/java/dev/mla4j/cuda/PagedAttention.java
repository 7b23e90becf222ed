package dev.mla4j.cuda;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A launch plan for causal attention over a {@link DevicePagedCache}: absorbed MLA (spec 4.3) or
 * MHA/GQA, for {@code seqs} sequences of T query tokens each, with at most {@code maxKeys}
 * visible keys per query. Picks the kernel ({@link KernelChoice}): MHA/GQA takes the
 * memory-bound kernel where its head dim and dtype have an instance (FP32 arithmetic, so the host
 * API uses it too); MLA takes the tensor-core kernel only through {@link #mlaTensorCore} (BF16
 * queries, a BF16-level error) and otherwise the generic FP32 kernel, whose heads per CTA (HG)
 * and tokens per tile (TK) follow from the device's shared memory. A cache with quantized parts
 * takes the generic kernel's {@code _q} instances, which stage code · scale exactly in FP32.
 * The number of key-range splits
 * makes the grid fill the GPU even at batch 1; the plan owns the split workspace. {@link #launch} queues the attention kernel and,
 * with more than one split, the log-sum-exp merge, on the given stream; nothing waits.
 */
public final class PagedAttention implements AutoCloseable {
  /** Threads per attention CTA (MLA4J_ATTN_THREADS). */
  static final int THREADS = 256;
  static final int MERGE_THREADS = 256;
  /** Loads a merge thread issues together (MLA4J_MERGE_AHEAD): up to this many splits, one warp. */
  static final int MERGE_AHEAD = 8;
  /** Output columns per merge CTA (MLA4J_MERGE_SLICE). */
  static final int MERGE_SLICE = 128;
  /** Shared memory one CTA may use, so that two CTAs fit on an SM of 228 KB (Hopper). */
  static final int MAX_SHARED_BYTES = 112 * 1024;
  /** Tokens per tile the head-group choice aims for. */
  static final int MIN_TILE_TOKENS = 16;
  /** Resident CTAs per SM the split count aims to fill. */
  static final int CTAS_PER_SM = 4;

  private final CudaContext context;
  private final Arena arena = Arena.ofShared();
  private final KernelStructs.Writer params;
  private final KernelStructs.Writer merge;
  private final String kernel;
  private final int threads;
  /** Grid y and z: head groups and query tokens, or row tiles·n_kv and sequences (prefill). */
  private final int gridY;
  private final int gridZ;
  private final int splits;
  /** CTAs per thread-block cluster, whose splits combine on chip (1: none). */
  private final int cluster;
  private final int sharedBytes;
  private final int rows;
  private final int valueWidth;
  private final DeviceBuffer partAcc;
  private final DeviceBuffer partMl;

  /**
   * Query and cache geometry; widths in elements, parts as indices into the cache, vColumn the
   * first column of V inside its part (non-zero when K and V share one part).
   */
  private record Geometry(int heads, int group, int aWidth, int bWidth, int vWidth, int aKv,
      int bKv, int vKv, int aPart, int bPart, int vPart, int vColumn, boolean valueIsA,
      float scale) {}

  /** Absorbed MLA with the FP32-exact generic kernel (the host API's path). */
  public static PagedAttention mla(CudaContext context, MlaShape s, DevicePagedCache cache,
      int seqs, int tokens, int maxKeys) {
    return new PagedAttention(context, cache, seqs, tokens, maxKeys, mlaGeometry(s), null);
  }

  /**
   * Absorbed MLA on tensor cores where the shape has an instance (BF16 latent, or INT8/FP8/INT4
   * codes read as stored with BF16 rope keys or rope keys quantized like the latent, L
   * 512/1024/2048, n_h a multiple of 16; KernelChoice.mlaMmaQuantized), else the generic kernel:
   * queries
   * and probabilities are rounded to BF16 (FP16 over a quantized latent) for the MMA, so the
   * error is BF16-level rather than FP32-level ({@link #kernel} says which one runs). On an
   * sm_90 device, DeepSeek's shape (L 512, a shared rope key of 64, n_h a multiple of 64) takes
   * a wgmma kernel (BF16, or INT8/FP8/INT4 codes in groups of 32/64/128 with rope keys in BF16 or
   * in the latent's format) unless {@code -Dmla4j.cuda.wgmma=false}. Where a shape has more than
   * one head slab (Llama-2-7B d_kv 32), the plan's batch and key count pick it (see
   * WIDE_SLAB_MIN_BLOCKS), so plans of one shape may run different instances. The
   * device-resident fast path.
   */
  public static PagedAttention mlaTensorCore(CudaContext context, MlaShape s,
      DevicePagedCache cache, int seqs, int tokens, int maxKeys) {
    return mlaTensorCore(context, s, cache, seqs, tokens, maxKeys,
        !"false".equals(System.getProperty(WGMMA_PROPERTY)),
        Integer.getInteger(CLUSTER_PROPERTY, DEFAULT_MAX_CLUSTER));
  }

  /** Set to {@code false}, keeps DeepSeek's shape on the mma.sync kernel (for comparisons). */
  public static final String WGMMA_PROPERTY = "mla4j.cuda.wgmma";
  /**
   * The most CTAs per thread-block cluster (2, 4 or 8) whose key-range splits the BF16 mma.sync
   * MLA kernel combines on chip on sm_90 before the merge. Off (1) by default: the combine has
   * not yet run on a GPU (native/NOTES.md, v8); {@code -Dmla4j.cuda.cluster=4} turns it on.
   */
  public static final String CLUSTER_PROPERTY = "mla4j.cuda.cluster";
  static final int DEFAULT_MAX_CLUSTER = 1;

  /**
   * As {@link #mlaTensorCore}, with the wgmma kernel allowed or not and at most
   * {@code maxCluster} CTAs per cluster.
   */
  static PagedAttention mlaTensorCore(CudaContext context, MlaShape s, DevicePagedCache cache,
      int seqs, int tokens, int maxKeys, boolean allowWgmma, int maxCluster) {
    checkMaxCluster(maxCluster);
    Geometry g = mlaGeometry(s);
    QuantizedLayout latent = cache.quantization(g.aPart());
    KernelChoice mma;
    if (latent != null) {
      QuantizedLayout rope = cache.quantization(g.bPart());
      mma = KernelChoice.mlaWgmmaQuantized(allowWgmma && context.hasWgmma(), latent,
          cache.dtype(), rope, g.heads(), g.bWidth(), g.bKv(), cache.width(g.bPart()),
          context.sharedMemoryOptin());
      if (mma == null) {
        mma = widerSlab(widest -> KernelChoice.mlaMmaQuantized(latent, cache.dtype(), rope,
                g.heads(), g.group(), g.bWidth(), g.bKv(), cache.width(g.bPart()),
                context.sharedMemoryOptin(), widest),
            WIDE_SLAB_MIN_BLOCKS_QUANTIZED, (long) seqs * tokens, g.heads(), maxKeys,
            context.multiprocessors());
      }
    } else if (quantized(cache)) {
      mma = null;  // a quantized rope part beside a plain latent: only the generic kernel reads it
    } else {
      mma = KernelChoice.mlaWgmma(allowWgmma && context.hasWgmma(),
          cache.dtype(), g.heads(), g.aWidth(), cache.width(g.aPart()), g.bWidth(), g.bKv(),
          cache.width(g.bPart()), context.sharedMemoryOptin());
      if (mma == null) {
        mma = widerSlab(widest -> KernelChoice.mlaMma(cache.dtype(), g.heads(), g.group(),
                g.aWidth(), cache.width(g.aPart()), g.bWidth(), g.bKv(), cache.width(g.bPart()),
                context.sharedMemoryOptin(), widest),
            WIDE_SLAB_MIN_BLOCKS, (long) seqs * tokens, g.heads(), maxKeys,
            context.multiprocessors());
      }
    }
    return new PagedAttention(context, cache, seqs, tokens, maxKeys, g, mma, maxCluster);
  }

  /**
   * Key blocks each CTA must walk for the widest head slab (KernelChoice's widestSlab: 16-token
   * tiles) to replace the default one (a smaller slab of 32-token tiles). The widest slab reads
   * each tile once instead of once per slab, and over a quantized latent dequantizes it once, but
   * it pays the per-tile barriers and softmax twice as often and, with fewer CTAs per split, takes
   * more splits. H100, Llama-2-7B d_kv 32 (32-head against 16-head slabs), alternated twice in one
   * call (native/results/h100-stop35-wide-slab-ab.log), speed of the widest slab against the
   * default: with 16 or more blocks per CTA, BF16 x1.03-1.15 (batch 64 at 32K: 2653-2667 -> 2374
   * us) and INT8 x1.10-1.17 (3074 -> 2654-2667); 8 blocks (batch 2 at 32K, batch 16 at 4K) INT8
   * x1.07, BF16 x0.97-0.98; 4 blocks (batch 1 at 32K) BF16 x0.90, INT8 x0.99; 1 block (batch 1
   * at 4K) x0.78-0.83.
   */
  static final int WIDE_SLAB_MIN_BLOCKS = 16;
  /** As WIDE_SLAB_MIN_BLOCKS, over a quantized latent. */
  static final int WIDE_SLAB_MIN_BLOCKS_QUANTIZED = 8;

  /** A tensor-core MLA choice with the default head slab, or the widest one. */
  interface SlabChoice {
    KernelChoice choose(boolean widestSlab);
  }

  /**
   * The widest slab where it has more heads per CTA than the default and, planned for
   * {@code queryRows} query rows of n_h {@code heads} over {@code maxKeys} keys, each of its CTAs
   * walks at least {@code minBlocks} key blocks; else the default (null when there is none).
   */
  static KernelChoice widerSlab(SlabChoice slabs, int minBlocks, long queryRows, int heads,
      int maxKeys, int sms) {
    KernelChoice base = slabs.choose(false);
    KernelChoice widest = slabs.choose(true);
    if (base == null || widest == null || widest.headsPerCta() <= base.headsPerCta()) {
      return base;
    }
    long ctasPerSplit = queryRows * (heads / widest.headsPerCta());  // as the constructor's grid
    return blocksPerSplit(widest, ctasPerSplit, keyBlocks(maxKeys), sms) >= minBlocks
        ? widest : base;
  }

  /**
   * MHA/GQA with FP32 arithmetic: the memory-bound decode kernel where the dtype (or the keys' and
   * values' quantization) and d_h have instances, else the generic kernel (the host API's path).
   */
  public static PagedAttention mha(CudaContext context, MhaShape s, DevicePagedCache cache,
      int seqs, int tokens, int maxKeys) {
    return mha(context, s, cache, seqs, tokens, maxKeys, 0);
  }

  /**
   * As {@link #mha}, with the decode kernel's instance for {@code headsPerCta} query heads per
   * CTA (its largest G dividing that), or {@code KernelChoice.mhaHeadsPerCta}'s choice for 0:
   * for tests of every instance on any GPU.
   */
  static PagedAttention mha(CudaContext context, MhaShape s, DevicePagedCache cache, int seqs,
      int tokens, int maxKeys, int headsPerCta) {
    Geometry g = mhaGeometry(s);
    return new PagedAttention(context, cache, seqs, tokens, maxKeys, g,
        mhaDecode(context, cache, g, seqs * tokens, maxKeys, headsPerCta));
  }

  /**
   * The memory-bound decode kernel for this cache (plain or quantized K and V), or null. It
   * reads each K/V row once for the heads of a CTA; how many a GQA group puts in one CTA depends
   * on the grid ({@link KernelChoice#mhaHeadsPerCta}) unless {@code headsPerCta} is given.
   */
  private static KernelChoice mhaDecode(CudaContext context, DevicePagedCache cache, Geometry g,
      int rows, int maxKeys, int headsPerCta) {
    int group = headsPerCta > 0 ? headsPerCta : KernelChoice.mhaHeadsPerCta(g.group(),
        (long) rows * g.heads(), keyBlocks(maxKeys), context.multiprocessors());
    if (!quantized(cache)) {
      return KernelChoice.mha(cache.dtype(), g.aWidth(), group);
    }
    return KernelChoice.mhaQuantized(cache.quantization(g.aPart()),
        cache.quantization(g.vPart()), g.heads() / g.group(), g.aWidth(), group);
  }

  /**
   * MHA/GQA prefill chunks of at least {@link KernelChoice#PREFILL_MIN_ROWS} query rows (T·group)
   * per kv head on the tensor-core prefill kernel where the cache is BF16/FP16 with d_h 64/128:
   * queries and probabilities rounded to the cache type for the MMA, so the error is BF16- or
   * FP16-level. Otherwise as {@link #mha}. The device-resident fast path.
   */
  public static PagedAttention mhaTensorCore(CudaContext context, MhaShape s,
      DevicePagedCache cache, int seqs, int tokens, int maxKeys) {
    return mhaTensorCore(context, cache, seqs, tokens, maxKeys, mhaGeometry(s), 0);
  }

  /** As {@link #mhaTensorCore}, with {@link #mha}'s {@code headsPerCta} for the decode kernel. */
  static PagedAttention mhaTensorCore(CudaContext context, MhaShape s, DevicePagedCache cache,
      int seqs, int tokens, int maxKeys, int headsPerCta) {
    return mhaTensorCore(context, cache, seqs, tokens, maxKeys, mhaGeometry(s), headsPerCta);
  }

  /**
   * {@link #mhaTensorCore} over a cache of one part whose rows hold a token's K then V,
   * {@code [K_0 .. K_{n_kv-1} | V_0 .. V_{n_kv-1}]}, K_j of keyDim and V_j of valueDim columns:
   * the expanded keys of {@link MlaNaivePrefill}. Queries {@code [T·n_h][keyDim]}, output
   * {@code [T·n_h][valueDim]}.
   */
  static PagedAttention mhaTensorCorePacked(CudaContext context, int heads, int kvHeads,
      int keyDim, int valueDim, float scale, DevicePagedCache cache, int seqs, int tokens,
      int maxKeys) {
    if (cache.parts() != 1 || cache.width(0) != kvHeads * (keyDim + valueDim)) {
      throw new IllegalArgumentException("a packed K/V cache has one part of n_kv·(d_k + d_v) = "
          + kvHeads * (keyDim + valueDim) + " columns, got " + cache.parts() + " parts, width "
          + cache.width(0));
    }
    return mhaTensorCore(context, cache, seqs, tokens, maxKeys, new Geometry(heads,
        heads / kvHeads, keyDim, 0, valueDim, keyDim, 0, valueDim, 0, 0, 0, kvHeads * keyDim,
        false, scale), 0);
  }

  private static PagedAttention mhaTensorCore(CudaContext context, DevicePagedCache cache,
      int seqs, int tokens, int maxKeys, Geometry g, int headsPerCta) {
    KernelChoice choice = null;
    if (!quantized(cache) && tokens * g.group() >= KernelChoice.PREFILL_MIN_ROWS) {
      choice = KernelChoice.mhaPrefill(cache.dtype(), g.aWidth(), g.vWidth());
    }
    if (choice == null && g.aWidth() == g.vWidth()) {
      choice = mhaDecode(context, cache, g, seqs * tokens, maxKeys, headsPerCta);
    }
    return new PagedAttention(context, cache, seqs, tokens, maxKeys, g, choice);
  }

  /**
   * MHA/GQA on the generic FP32 kernel whatever the cache: what {@link #limitKeys} and
   * {@link #launchPartial} need.
   */
  public static PagedAttention mhaGeneric(CudaContext context, MhaShape s,
      DevicePagedCache cache, int seqs, int tokens, int maxKeys) {
    return new PagedAttention(context, cache, seqs, tokens, maxKeys, mhaGeometry(s), null);
  }

  private static Geometry mhaGeometry(MhaShape s) {
    int dh = s.headDim();
    return new Geometry(s.heads(), s.groupSize(), dh, 0, dh, dh, 0, dh, 0, 0, 1, 0, false,
        s.softmaxScale());
  }

  /** 64-token key blocks holding {@code maxKeys} keys. */
  private static int keyBlocks(int maxKeys) {
    return (maxKeys + PagedLayers.BLOCK_TOKENS - 1) / PagedLayers.BLOCK_TOKENS;
  }

  /** Whether a part is quantized: only the generic kernel reads those. */
  private static boolean quantized(DevicePagedCache cache) {
    for (int p = 0; p < cache.parts(); p++) {
      if (cache.quantization(p) != null) {
        return true;
      }
    }
    return false;
  }

  private static Geometry mlaGeometry(MlaShape s) {
    int ropeKv = s.ropeKeys() == RopeKeyLayout.SHARED ? 0 : s.ropeDim();
    return new Geometry(s.heads(), s.heads() / s.kvHeads(), s.latentDim(), s.ropeDim(),
        s.latentDim(), 0, ropeKv, 0, 0, 1, 0, 0, true, s.softmaxScale());
  }

  private PagedAttention(CudaContext context, DevicePagedCache cache, int seqs, int tokens,
      int maxKeys, Geometry g, KernelChoice fast) {
    this(context, cache, seqs, tokens, maxKeys, g, fast, 1);
  }

  private PagedAttention(CudaContext context, DevicePagedCache cache, int seqs, int tokens,
      int maxKeys, Geometry g, KernelChoice fast, int maxCluster) {
    if (seqs <= 0 || tokens <= 0 || maxKeys <= 0) {
      throw new IllegalArgumentException("attention needs seqs, tokens and maxKeys > 0, got "
          + seqs + ", " + tokens + ", " + maxKeys);
    }
    this.context = context;
    KernelChoice choice = fast != null ? fast : generic(context, cache, g);
    this.kernel = choice.kernel();
    this.threads = choice.threads();
    int hg = choice.headsPerCta();
    if (choice.queryRows() > 0) {
      int kvRows = tokens * g.group();
      this.gridY = (kvRows + choice.queryRows() - 1) / choice.queryRows() * (g.heads() / g.group());
      this.gridZ = seqs;
    } else {
      this.gridY = g.heads() / hg;
      this.gridZ = seqs * tokens;
    }
    this.rows = seqs * tokens * g.heads();
    this.valueWidth = g.vWidth();
    int keyBlocks = keyBlocks(maxKeys);
    int perSplit = blocksPerSplit(choice, (long) gridY * gridZ, keyBlocks,
        context.multiprocessors());
    this.splits = (keyBlocks + perSplit - 1) / perSplit;
    this.sharedBytes = choice.sharedBytes();
    if (sharedBytes > 0) {
      context.allowSharedMemory(kernel, sharedBytes);
    }
    this.cluster = choice.combinesInCluster(g.aWidth())
        ? clusterSize(context, choice, splits, (long) splits * gridY * gridZ, maxCluster) : 1;
    int states = splits / cluster;  // partial states the merge reads
    this.partAcc = states > 1 ? context.allocate((long) states * rows * g.vWidth() * Float.BYTES) : null;
    this.partMl = states > 1 ? context.allocate((long) states * rows * 2 * Float.BYTES) : null;

    this.params = new KernelStructs.Writer(arena, KernelStructs.PAGED_ATTN)
        .set("pool", cache.pool().pointer())
        .set("block_bytes", cache.blockBytes())
        .set("a_offset", cache.partOffset(g.aPart()))
        .set("b_offset", cache.partOffset(g.bPart()))
        .set("v_offset", cache.partOffset(g.vPart()) + (long) g.vColumn() * cache.dtype().bytes())
        .set("a_row", cache.width(g.aPart()))
        .set("b_row", cache.width(g.bPart()))
        .set("v_row", cache.width(g.vPart()))
        .set("a_width", g.aWidth()).set("b_width", g.bWidth()).set("v_width", g.vWidth())
        .set("a_kv_stride", g.aKv()).set("b_kv_stride", g.bKv()).set("v_kv_stride", g.vKv())
        .set("heads", g.heads()).set("group", g.group()).set("tokens", tokens).set("seqs", seqs)
        .set("splits", splits).set("blocks_per_split", perSplit).set("heads_per_cta", hg)
        .set("tile_tokens", choice.tileTokens()).set("dtype", cache.dtype().ordinal())
        .set("scale", g.scale()).set("value_is_a", g.valueIsA() ? 1 : 0)
        .set("key_limit", Integer.MAX_VALUE);
    describeQuantized(params, "a", cache, g.aPart());
    describeQuantized(params, "b", cache, g.bPart());
    describeQuantized(params, "v", cache, g.vPart());
    this.merge = states > 1 ? new KernelStructs.Writer(arena, KernelStructs.MERGE)
        .set("part_acc", partAcc.pointer()).set("part_ml", partMl.pointer())
        .set("rows", rows).set("width", g.vWidth()).set("splits", states) : null;
    assert DType.F32.ordinal() == 0 && DType.BF16.ordinal() == 1 && DType.F16.ordinal() == 2;
    assert Quantization.INT8.ordinal() == 1 && Quantization.INT4.ordinal() == 2
        && Quantization.FP8.ordinal() == 3;
  }

  /**
   * The x_quant, x_seg, x_code_row, x_scale_row and x_scales fields of part {@code prefix}, and
   * quant_group, which the quantized parts must share.
   */
  private static void describeQuantized(KernelStructs.Writer params, String prefix,
      DevicePagedCache cache, int part) {
    QuantizedLayout q = cache.quantization(part);
    params.set(prefix + "_quant", cache.quantizationKind(part).ordinal());
    for (int other = 0; q != null && other < cache.parts(); other++) {
      QuantizedLayout o = cache.quantization(other);
      if (o != null && o.groupSize() != q.groupSize()) {
        throw new IllegalArgumentException("quantized cache parts with different group sizes ("
            + q.groupSize() + ", " + o.groupSize() + "): the attention kernels take one");
      }
    }
    if (q != null) {
      params.set(prefix + "_seg", q.segmentLength()).set(prefix + "_code_row", q.rowBytes())
          .set(prefix + "_scale_row", q.scalesPerRow())
          .set(prefix + "_scales", cache.scalesOffset(part)).set("quant_group", q.groupSize());
    }
  }

  /** The generic kernel: HG and TK from the shared memory one of CTAS_PER_SM CTAs may use. */
  private static KernelChoice generic(CudaContext context, DevicePagedCache cache, Geometry g) {
    int budget = Math.min(context.sharedMemoryOptin(), MAX_SHARED_BYTES) / Float.BYTES;
    int hg = 0;
    int tk = 0;
    int rowFloats = 0;
    for (int cand = Math.min(64, g.heads()); cand >= 1 && hg == 0; cand--) {
      if (g.heads() % cand != 0) {
        continue;
      }
      int qacc = cand * (g.aWidth() + g.bWidth() + g.vWidth());
      int row = tileRowFloats(g, cand);
      int fixed = qacc + 3 * cand;
      int fits = (budget - fixed) / (row + cand);
      if (cand == 1 || (2 * qacc <= budget && fits >= MIN_TILE_TOKENS)) {
        hg = cand;
        tk = Math.min(PagedLayers.BLOCK_TOKENS, fits);
        rowFloats = row;
      }
    }
    if (tk < 1) {
      throw new IllegalArgumentException("attention widths (" + g.aWidth() + ", " + g.bWidth()
          + ", " + g.vWidth() + ") do not fit in " + budget * Float.BYTES
          + " bytes of shared memory even for one head and one token");
    }
    int bytes = Float.BYTES * (hg * (g.aWidth() + g.bWidth() + g.vWidth() + tk + 3)
        + tk * rowFloats);
    String name = "mla4j_paged_attention_" + switch (cache.dtype()) {
      case F32 -> "f32";
      case BF16 -> "bf16";
      case F16 -> "f16";
    } + (quantized(cache) ? "_q" : "");
    return new KernelChoice(name, hg, tk, THREADS, bytes, CTAS_PER_SM, 1, Integer.MAX_VALUE, 0);
  }

  /** Floats of one staged token: the A, B and V columns of the kv heads a head group spans. */
  private static int tileRowFloats(Geometry g, int hg) {
    int nkv = 1;
    for (int h0 = 0; h0 < g.heads(); h0 += hg) {
      nkv = Math.max(nkv, (h0 + hg - 1) / g.group() - h0 / g.group() + 1);
    }
    int a = g.aKv() * (nkv - 1) + g.aWidth();
    int b = g.bKv() * (nkv - 1) + g.bWidth();
    int v = g.valueIsA() ? 0 : g.vKv() * (nkv - 1) + g.vWidth();
    return a + b + v;
  }

  /** Key-range splits per query row (1: no merge). */
  public int splits() {
    return splits;
  }

  /**
   * CTAs per thread-block cluster: the splits of a cluster combine their partial states on chip,
   * so the merge reads splits / cluster of them (none when that is 1). 1: no clusters.
   */
  public int cluster() {
    return cluster;
  }

  /** The kernel combines clusters of 2, 4 or 8 CTAs (mla_mma.cu); 1 is none. */
  static void checkMaxCluster(int maxCluster) {
    if (maxCluster != 1 && maxCluster != 2 && maxCluster != 4 && maxCluster != 8) {
      throw new IllegalArgumentException("CTAs per cluster (" + CLUSTER_PROPERTY + ") must be 1,"
          + " 2, 4 or 8, got " + maxCluster);
    }
  }

  /**
   * The largest cluster size, at most maxCluster, that divides the splits and whose clusters the
   * device runs in no more waves than plain CTAs (a GPC holds whole clusters only, so some SMs
   * may idle); 1 where there is none.
   */
  private static int clusterSize(CudaContext context, KernelChoice choice, int splits, long ctas,
      int maxCluster) {
    long slots = (long) Math.max(1, choice.residentPerSm()) * context.multiprocessors();
    long waves = (ctas + slots - 1) / slots;
    for (int c = maxCluster; c >= 2 && splits > 1; c /= 2) {
      if (splits % c != 0) {
        continue;
      }
      long active;
      try {
        active = (long) c * context.maxActiveClusters(choice.kernel(), choice.threads(),
            choice.sharedBytes(), c);
      } catch (CudaException e) {
        active = 0;  // a device or partition that cannot say: no clusters of this size
      }
      if (active > 0 && (ctas + active - 1) / active <= waves) {
        return c;
      }
    }
    return 1;
  }

  public int sharedBytes() {
    return sharedBytes;
  }

  /** Name of the attention kernel this plan launches. */
  public String kernel() {
    return kernel;
  }

  /**
   * Queues the attention on {@code stream}. Pointers are device addresses:
   * qa {@code [seqs·T·n_h][a_width]} (MLA q~, MHA q), qb {@code [seqs·T·n_h][d_r]} (MLA rotated
   * q_rope, else 0), blockTable {@code [seqs][maxBlocks]} int32, firstPos {@code [seqs]} int32
   * (position of each sequence's first query token; its keys are [0, firstPos + T)),
   * out {@code [seqs·T·n_h][v_width]} F32.
   */
  public void launch(CudaStream stream, long qa, long qb, long blockTable, int maxBlocks,
      long firstPos, long out) {
    queue(stream, qa, qb, blockTable, maxBlocks, firstPos, out,
        partAcc == null ? 0L : partAcc.pointer(), partMl == null ? 0L : partMl.pointer());
    if (merge != null) {
      merge.set("out", out);
      launchMerge(context, stream, rows, valueWidth, splits / cluster, merge.segment);
    }
  }

  /** Query rows {@code seqs·T·n_h}: the rows of the output and of each split's partial state. */
  public int rows() {
    return rows;
  }

  /** Output elements per query row: L for MLA, d_h for MHA. */
  public int valueWidth() {
    return valueWidth;
  }

  /**
   * Skips keys at positions {@code >= limit} (a host cache's quantized blocks end there; its
   * window's tokens, in another cache, are attended by a second plan, see
   * {@link #launchPartial}). Generic kernel only.
   */
  public PagedAttention limitKeys(int limit) {
    requireGeneric("a key limit");
    params.set("key_limit", limit);
    return this;
  }

  /**
   * As {@link #launch}, but writes the unnormalized partial states of this plan's
   * {@link #splits} key ranges to {@code partAcc} ({@code [splits][rows][valueWidth]} F32) and
   * {@code partMl} ({@code [splits][rows][2]}: running max and sum) and merges nothing: for a
   * merge ({@link #mergeSplits}) with the partial states of another plan over other keys, written
   * behind these. Generic kernel only.
   */
  public void launchPartial(CudaStream stream, long qa, long qb, long blockTable, int maxBlocks,
      long firstPos, long partAcc, long partMl) {
    requireGeneric("partial states");
    queue(stream, qa, qb, blockTable, maxBlocks, firstPos, 0L, partAcc, partMl);
  }

  /** The attention kernel alone; a null partAcc makes it write the normalized output. */
  private void queue(CudaStream stream, long qa, long qb, long blockTable, int maxBlocks,
      long firstPos, long out, long partAcc, long partMl) {
    params.set("qa", qa).set("qb", qb).set("block_table", blockTable).set("max_blocks", maxBlocks)
        .set("first_pos", firstPos).set("out", out).set("part_acc", partAcc)
        .set("part_ml", partMl);
    if (cluster > 1) {
      context.launchClustered(kernel, splits, gridY, gridZ, threads, sharedBytes, stream,
          params.segment, cluster);
    } else {
      context.launch(kernel, splits, gridY, gridZ, threads, sharedBytes, stream, params.segment);
    }
  }

  /**
   * Queues the log-sum-exp merge of {@code splits} partial states ({@code partAcc}
   * {@code [splits][rows][width]}, {@code partMl} {@code [splits][rows][2]}) into {@code out}
   * {@code [rows][width]} F32; a split that saw no key (max -inf) adds nothing.
   */
  public static void mergeSplits(CudaContext context, CudaStream stream, long partAcc,
      long partMl, int rows, int width, int splits, long out) {
    try (Arena tmp = Arena.ofConfined()) {
      var m = new KernelStructs.Writer(tmp, KernelStructs.MERGE).set("part_acc", partAcc)
          .set("part_ml", partMl).set("out", out).set("rows", rows).set("width", width)
          .set("splits", splits);
      launchMerge(context, stream, rows, width, splits, m.segment);
    }
  }

  /**
   * 64-token blocks per key-range split for {@code base} CTAs per split (query rows x head
   * groups). With a known residency R = residentPerSm x SMs: the split count with the least
   * modelled time, waves x (blocks per CTA + 1), the 1 standing for a CTA's fixed cost (queries,
   * partial state, merge), so that no SM idles through a mostly empty last wave and no split is
   * added that a full wave does not pay for; otherwise the count that reaches ctasPerSm x SMs
   * CTAs. Both capped by maxSplitsPerSm x SMs and by the key blocks. A grid of at least R CTAs
   * without splits is not split.
   */
  static int blocksPerSplit(KernelChoice choice, long base, int keyBlocks, int sms) {
    long maxSplits = Math.max(1, Math.min(keyBlocks, (long) choice.maxSplitsPerSm() * sms));
    if (choice.residentPerSm() <= 0) {
      long target = (long) choice.ctasPerSm() * sms;
      int wanted = (int) Math.max(1, Math.min(maxSplits, (target + base - 1) / base));
      return Math.max(choice.minBlocksPerSplit(), (keyBlocks + wanted - 1) / wanted);
    }
    long resident = (long) choice.residentPerSm() * sms;
    if (base >= resident) {
      // Every slot is busy without a split. The model would still trade, e.g., 4 waves x 513 for
      // 35 x 58 (T = 512 prefill, 128 heads, 32K: 1024 CTAs), a 1% gain on paper that the partial
      // states and the merge it does not count turn into a loss (6.40 against 5.58 ms measured).
      return keyBlocks;
    }
    int best = keyBlocks;
    long bestTime = Long.MAX_VALUE;
    for (int s = 1; s <= maxSplits; s++) {
      int per = Math.max(choice.minBlocksPerSplit(), (keyBlocks + s - 1) / s);
      long ctas = base * ((keyBlocks + per - 1) / per);
      long time = (ctas + resident - 1) / resident * (per + 1L);
      // more splits only for a real gain: at 128K, batch 64, 64 CTAs per split, 35 splits model
      // 17 waves x 60 = 1020 against 2 splits' 1 x 1025, and ran 6% slower (their partial states
      // and the merge are not in the model)
      if (time < bestTime * (1 - SPLIT_STEP_GAIN)) {
        bestTime = time;
        best = per;
      }
    }
    // The same trade below a full wave: 128 CTAs on 132 slots, 2048 blocks, modelled 35 x 58
    // against 1 x 2049, measured 5.34 against 4.43 ms (DeepSeek batch 64, 128K: the 36 splits'
    // partial states and the two head slabs reading their blocks out of step took the DRAM reads
    // from 1.06x to 1.66x the cache). A split has to win more than SPLIT_MIN_GAIN of the unsplit
    // time to be taken.
    long unsplit = (base + resident - 1) / resident * (keyBlocks + 1L);
    return bestTime > unsplit * (1 - SPLIT_MIN_GAIN) ? keyBlocks : best;
  }

  /** The least modelled gain (a fraction of the unsplit time) for which a grid is split. */
  static final double SPLIT_MIN_GAIN = 0.1;

  /**
   * The least modelled gain (a fraction of the best time so far) for which a larger split count
   * replaces a smaller one.
   */
  static final double SPLIT_STEP_GAIN = 0.02;

  /** The merge kernel: a CTA of one warp for a few splits, of eight for more (native/attention.cu). */
  private static void launchMerge(CudaContext context, CudaStream stream, int rows, int width,
      int splits, MemorySegment params) {
    boolean few = splits <= MERGE_AHEAD;
    context.launchDependent(few ? "mla4j_merge_few_splits" : "mla4j_merge_splits", rows,
        mergeSlices(width), 1, few ? 32 : MERGE_THREADS, 0, stream, params);
  }

  /** Merge CTAs per row (native/attention.cu). */
  private static int mergeSlices(int width) {
    return (width + MERGE_SLICE - 1) / MERGE_SLICE;
  }

  private void requireGeneric(String what) {
    if (!kernel.startsWith("mla4j_paged_attention_")) {
      throw new IllegalStateException(what + " need the generic kernel; this plan runs " + kernel);
    }
  }

  @Override
  public void close() {
    if (partAcc != null) {
      partAcc.close();
      partMl.close();
    }
    arena.close();
  }
}
