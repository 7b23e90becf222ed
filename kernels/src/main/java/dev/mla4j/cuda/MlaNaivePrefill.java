package dev.mla4j.cuda;

import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * MLA prefill in the naive form (spec 4.1), for chunks of many query tokens: the keys a chunk
 * attends are decompressed from the latent cache, per expanded head j (an MHA2MLA kv head, or
 * for DeepSeek each query head; {@link Dims})
 * <pre>
 *   K_j(τ) = [ k_R,j(τ) | W_uk,j·c(τ) ]   [d_r + d_nope = d_k]
 *   V_j(τ) = W_uv,j·c(τ)                  [d_v]
 * </pre>
 * (a gather of the latent and rope keys, native/mla_expand.cu, then two strided-batched cuBLAS
 * GEMMs, BF16/F16 out), and the T query tokens attend them with the tensor-core MHA prefill
 * kernel ({@link PagedAttention#mhaTensorCore}). The absorbed kernel spends 2·(d_r + 2L) FLOPs
 * per (query row, key); this path 2·(d_k + d_v), plus the decompression,
 * 2·L·n_e·(d_nope + d_v) per key (n_e expanded heads), shared by the chunk's T·n_h rows; on a
 * faster kernel either way (README "CUDA backend").
 *
 * <p>Output: o [T·n_h][d_v] per head, the naive form's attention output (spec 4.1, before
 * W_o), not the absorbed kernel's latent-space u [T·n_h][L]. Queries: q [T·n_h][d_k] F32 as
 * [q_R (rotated, d_r) | q_N (d_nope)], the order of K's columns. Weights: W_uk [n_e][d_nope][L]
 * and W_uv [n_e][d_v][L], dense on the device in the cache's dtype. Error: K_N and V are rounded
 * to the cache type, and the attention kernel rounds Q and P to it: BF16- or FP16-level.
 *
 * <p>One sequence per launch; the plan owns the dense latent copy and the expanded K/V for up to
 * {@code maxKeys} keys (n_e·(d_k + d_v) + L elements per key).
 */
public final class MlaNaivePrefill implements AutoCloseable {
  /**
   * The expansion: {@code heads} expanded K/V heads (dividing n_h; query head h reads
   * h / (n_h / heads)), {@code nope} = d_nope columns of W_uk per head, {@code value} = d_v.
   * Instances of the attention kernel: d_k = d_r + d_nope and d_v of (64, 64), (128, 128) or
   * (192, 128).
   */
  public record Dims(int heads, int nope, int value) {
    /** MHA2MLA: the shape's kv heads, d_nope = d_h − d_r, d_v = d_h. */
    public static Dims mha2mla(MlaShape s, int headDim) {
      return new Dims(s.kvHeads(), headDim - s.ropeDim(), headDim);
    }
  }

  /** Threads of the gather CTA (EXPAND_THREADS in native/mla_expand.cu). */
  private static final int GATHER_THREADS = 256;

  private final CudaContext context;
  private final MlaShape shape;
  private final Dims dims;
  private final int keyDim;
  private final int maxKeys;
  private final DType dtype;
  private final DeviceBuffer latent;
  private final DeviceBuffer identity;
  private final DevicePagedCache expanded;
  private final PagedAttention attention;
  private final Arena arena = Arena.ofShared();
  private final KernelStructs.Writer gather;

  /**
   * A plan for chunks of {@code tokens} query tokens attending at most {@code maxKeys} keys of
   * {@code source}, a cache of two plain parts: the latent [L] and the rope keys
   * [{@link MlaShape#ropeKeyWidth}].
   */
  public MlaNaivePrefill(CudaContext context, CudaStream stream, MlaShape shape, Dims dims,
      DevicePagedCache source, int tokens, int maxKeys) {
    check(shape, dims, source, tokens, maxKeys);
    this.context = context;
    this.shape = shape;
    this.dims = dims;
    this.keyDim = shape.ropeDim() + dims.nope();
    this.maxKeys = maxKeys;
    this.dtype = source.dtype();
    int blocks = (maxKeys + PagedLayers.BLOCK_TOKENS - 1) / PagedLayers.BLOCK_TOKENS;
    int kvRow = dims.heads() * (keyDim + dims.value());
    DeviceBuffer lat = null;
    DeviceBuffer ids = null;
    DevicePagedCache exp = null;
    try {
      lat = context.allocate((long) blocks * PagedLayers.BLOCK_TOKENS * shape.latentDim()
          * dtype.bytes());
      exp = new DevicePagedCache(context, dtype, blocks, kvRow);
      if (exp.blockBytes() != (long) PagedLayers.BLOCK_TOKENS * kvRow * dtype.bytes()) {
        throw new IllegalStateException("expanded K/V blocks are padded (" + exp.blockBytes()
            + " bytes): the GEMMs need rows at one stride");
      }
      MemorySegment table = arena.allocate(4L * blocks, 4);
      for (int i = 0; i < blocks; i++) {
        table.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, i, i);
      }
      ids = context.allocate(4L * blocks);
      ids.upload(stream, table, 0);
      stream.synchronize();
      this.attention = PagedAttention.mhaTensorCorePacked(context, shape.heads(), dims.heads(),
          keyDim, dims.value(), shape.softmaxScale(), exp, 1, tokens, maxKeys);
    } catch (RuntimeException e) {
      for (AutoCloseable c : new AutoCloseable[] {lat, ids, exp}) {
        closeQuietly(c, e);
      }
      arena.close();
      throw e;
    }
    this.latent = lat;
    this.identity = ids;
    this.expanded = exp;
    this.gather = new KernelStructs.Writer(arena, KernelStructs.EXPAND)
        .set("pool", source.pool().pointer()).set("latent", latent.pointer())
        .set("kv", expanded.pool().pointer()).set("block_bytes", source.blockBytes())
        .set("a_offset", source.partOffset(0)).set("b_offset", source.partOffset(1))
        .set("a_row", source.width(0)).set("b_row", source.width(1))
        .set("latent_width", shape.latentDim()).set("kv_heads", dims.heads())
        .set("rope_width", shape.ropeDim())
        .set("rope_kv_stride", shape.ropeKeys() == RopeKeyLayout.SHARED ? 0 : shape.ropeDim())
        .set("head_stride", keyDim).set("kv_row", kvRow);
  }

  private static void check(MlaShape s, Dims d, DevicePagedCache source, int tokens,
      int maxKeys) {
    if (tokens <= 0 || maxKeys < tokens) {
      throw new IllegalArgumentException("naive MLA prefill needs 0 < T <= maxKeys, got T "
          + tokens + ", maxKeys " + maxKeys);
    }
    if (d.nope() <= 0) {
      throw new IllegalArgumentException("d_r " + s.ropeDim() + " leaves no nope columns: d_nope "
          + d.nope());
    }
    if (KernelChoice.mhaPrefill(DType.BF16, s.ropeDim() + d.nope(), d.value()) == null) {
      throw new IllegalArgumentException("naive MLA prefill runs the MHA prefill kernel, (d_k, "
          + "d_v) of (64, 64), (128, 128) or (192, 128); got d_k " + (s.ropeDim() + d.nope())
          + " (d_r " + s.ropeDim() + " + d_nope " + d.nope() + "), d_v " + d.value());
    }
    if (d.heads() <= 0 || s.heads() % d.heads() != 0
        || (s.ropeKeys() == RopeKeyLayout.PER_KV_HEAD && d.heads() != s.kvHeads())) {
      throw new IllegalArgumentException("expanded heads must divide n_h = " + s.heads()
          + (s.ropeKeys() == RopeKeyLayout.PER_KV_HEAD ? " and equal n_kv = " + s.kvHeads()
              + " (per-kv-head rope keys)" : "") + "; got " + d.heads());
    }
    if (source.dtype() == DType.F32 || source.parts() != 2 || source.quantization(0) != null
        || source.quantization(1) != null || source.width(0) != s.latentDim()
        || source.width(1) != s.ropeKeyWidth()) {
      throw new IllegalArgumentException("naive MLA prefill reads a BF16/F16 cache of two plain "
          + "parts, latent [" + s.latentDim() + "] and rope keys [" + s.ropeKeyWidth() + "]; got "
          + source.dtype() + " with " + source.parts() + " parts");
    }
  }

  /** Name of the attention kernel over the expanded keys. */
  public String kernel() {
    return attention.kernel();
  }

  /**
   * Queues the chunk on {@code stream} (the handle must be bound to it): keys [0, keys) of the
   * sequence whose blocks {@code blockTable} (int32 device array) lists are decompressed, then
   * the T queries at positions firstPos .. firstPos + T − 1 attend them causally.
   *
   * @param wUk W_uk [n_e][d_nope][L] in the cache dtype (device)
   * @param wUv W_uv [n_e][d_v][L] in the cache dtype (device)
   * @param q [T·n_h][d_k] F32: [q_R | q_N] per row, rows (t, h) token-major
   * @param firstPos int32 device scalar: position of query token 0; keys = firstPos + T
   * @param out [T·n_h][d_v] F32
   */
  public void launch(CudaStream stream, CublasHandle blas, long wUk, long wUv, long q,
      long blockTable, int keys, long firstPos, long out) {
    if (keys <= 0 || keys > maxKeys) {
      throw new IllegalArgumentException("keys " + keys + " outside (0, " + maxKeys + "]");
    }
    int ne = dims.heads();
    int l = shape.latentDim();
    int dv = dims.value();
    long kvRow = (long) ne * (keyDim + dv);
    long pool = expanded.pool().pointer();
    gather.set("block_table", blockTable).set("keys", keys);
    context.launch("mla4j_mla_expand_gather",
        (keys + PagedLayers.BLOCK_TOKENS - 1) / PagedLayers.BLOCK_TOKENS, 1, 1, GATHER_THREADS, 0,
        stream, gather.segment);
    int bytes = dtype.bytes();
    int nope = dims.nope();
    blas.batchedLinear(latent.pointer(), l, wUk, l, (long) nope * l, dtype, nope, l,
        pool + (long) shape.ropeDim() * bytes, kvRow, keyDim, keys, ne);
    blas.batchedLinear(latent.pointer(), l, wUv, l, (long) dv * l, dtype, dv, l,
        pool + (long) ne * keyDim * bytes, kvRow, dv, keys, ne);
    attention.launch(stream, q, 0L, identity.pointer(), (int) (identity.bytes() / 4), firstPos,
        out);
  }

  private static void closeQuietly(AutoCloseable c, RuntimeException into) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      into.addSuppressed(e);
    }
  }

  @Override
  public void close() {
    attention.close();
    expanded.close();
    identity.close();
    latent.close();
    arena.close();
  }
}
