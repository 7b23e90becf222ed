package dev.mla4j.cuda;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * MLA prefill in the naive form (spec 4.1), for chunks of many query tokens: the keys a chunk
 * attends are decompressed from the latent cache, per kv head j
 * <pre>
 *   K_j(τ) = [ k_R,j(τ) | W_uk,j·c(τ) ]   [d_r + d_nope = d_h]
 *   V_j(τ) = W_uv,j·c(τ)                  [d_h]
 * </pre>
 * (a gather of the latent and rope keys, native/mla_expand.cu, then two strided-batched cuBLAS
 * GEMMs, BF16/F16 out), and the T query tokens attend them with the tensor-core MHA prefill
 * kernel ({@link PagedAttention#mhaTensorCore}). The absorbed kernel spends 2·(d_r + 2L) FLOPs
 * per (query row, key); this path 4·d_h, plus the decompression, 2·L·n_kv·(d_nope + d_h) per
 * key, shared by the chunk's T·n_h rows: fewer FLOPs once T·n_h·(2·d_r + 4L − 4·d_h) exceeds
 * that, on the faster kernel either way (README "CUDA backend").
 *
 * <p>Output: o [T·n_h][d_h] per head, the naive form's attention output (spec 4.1, before
 * W_o), not the absorbed kernel's latent-space u [T·n_h][L]. Queries: q [T·n_h][d_h] F32 as
 * [q_R (rotated, d_r) | q_N (d_nope)], the order of K's columns. Weights: W_uk [n_kv][d_nope][L]
 * and W_uv [n_kv][d_h][L], dense on the device in the cache's dtype. Error: K_N and V are rounded
 * to the cache type, and the attention kernel rounds Q and P to it: BF16- or FP16-level.
 *
 * <p>One sequence per launch; the plan owns the dense latent copy and the expanded K/V for up to
 * {@code maxKeys} keys (2·n_kv·d_h + L elements per key).
 */
public final class MlaNaivePrefill implements AutoCloseable {
  private final CudaContext context;
  private final MlaShape shape;
  private final int headDim;
  private final int nope;
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
   *
   * @param headDim d_h of the original heads: d_r + d_nope, also V's width; 64 or 128
   */
  public MlaNaivePrefill(CudaContext context, CudaStream stream, MlaShape shape, int headDim,
      DevicePagedCache source, int tokens, int maxKeys) {
    check(shape, headDim, source, tokens, maxKeys);
    this.context = context;
    this.shape = shape;
    this.headDim = headDim;
    this.nope = headDim - shape.ropeDim();
    this.maxKeys = maxKeys;
    this.dtype = source.dtype();
    int blocks = (maxKeys + PagedLayers.BLOCK_TOKENS - 1) / PagedLayers.BLOCK_TOKENS;
    int kvRow = 2 * shape.kvHeads() * headDim;
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
      this.attention = PagedAttention.mhaTensorCorePacked(context,
          new MhaShape(shape.heads(), shape.kvHeads(), headDim, shape.softmaxScale()), exp, 1,
          tokens, maxKeys);
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
        .set("latent_width", shape.latentDim()).set("kv_heads", shape.kvHeads())
        .set("rope_width", shape.ropeDim())
        .set("rope_kv_stride", shape.ropeKeys() == RopeKeyLayout.SHARED ? 0 : shape.ropeDim())
        .set("head_stride", headDim).set("kv_row", kvRow);
  }

  private static void check(MlaShape s, int headDim, DevicePagedCache source, int tokens,
      int maxKeys) {
    if (tokens <= 0 || maxKeys < tokens) {
      throw new IllegalArgumentException("naive MLA prefill needs 0 < T <= maxKeys, got T "
          + tokens + ", maxKeys " + maxKeys);
    }
    if (headDim != 64 && headDim != 128) {
      throw new IllegalArgumentException("naive MLA prefill runs the MHA prefill kernel, d_h 64 "
          + "or 128; got d_h " + headDim);
    }
    if (s.ropeDim() >= headDim) {
      throw new IllegalArgumentException("d_r " + s.ropeDim() + " leaves no nope columns in d_h "
          + headDim);
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
   * @param wUk W_uk [n_kv][d_nope][L] in the cache dtype (device)
   * @param wUv W_uv [n_kv][d_h][L] in the cache dtype (device)
   * @param q [T·n_h][d_h] F32: [q_R | q_N] per row, rows (t, h) token-major
   * @param firstPos int32 device scalar: position of query token 0; keys = firstPos + T
   * @param out [T·n_h][d_h] F32
   */
  public void launch(CudaStream stream, CublasHandle blas, long wUk, long wUv, long q,
      long blockTable, int keys, long firstPos, long out) {
    if (keys <= 0 || keys > maxKeys) {
      throw new IllegalArgumentException("keys " + keys + " outside (0, " + maxKeys + "]");
    }
    int nkv = shape.kvHeads();
    int l = shape.latentDim();
    long kvRow = 2L * nkv * headDim;
    long pool = expanded.pool().pointer();
    gather.set("block_table", blockTable).set("keys", keys);
    context.launch("mla4j_mla_expand_gather",
        (keys + PagedLayers.BLOCK_TOKENS - 1) / PagedLayers.BLOCK_TOKENS, 1, 1, 256, 0, stream,
        gather.segment);
    int bytes = dtype.bytes();
    blas.batchedLinear(latent.pointer(), l, wUk, l, (long) nope * l, dtype, nope, l,
        pool + (long) shape.ropeDim() * bytes, kvRow, headDim, keys, nkv);
    blas.batchedLinear(latent.pointer(), l, wUv, l, (long) headDim * l, dtype, headDim, l,
        pool + (long) nkv * headDim * bytes, kvRow, headDim, keys, nkv);
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
