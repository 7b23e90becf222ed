package dev.mla4j.simd;

import dev.mla4j.api.MlaShape;
import dev.mla4j.attention.MlaKernel;
import dev.mla4j.attention.SoftmaxState;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.Tensor;

/**
 * Absorbed MLA attention (spec 4.3), tiled as query rows x 64-token cache blocks. MLA decode
 * does n_h·(d_r + 2L) MACs per cached token (spec 4.4), so on a CPU it is compute-bound: each
 * block's latent and rope rows are widened to F32 once into scratch and then reused by every
 * query row, four rows at a time.
 *
 * <p>Per block and group of four rows: the score tile {@code S[4][64]} comes from a 4 x 2
 * register-blocked dot kernel; the online softmax updates each row once per block (one rescale
 * per row and block, folded into the value kernel's accumulator load); then
 * {@code acc[4][L] += P[4][64] · C[64][L]} runs with 4 x 2 vector accumulators held in
 * registers across the block's tokens.
 *
 * <p>Queries and the state are copied into scratch once per call, zero-padded to whole vectors
 * along L and d_r and to a multiple of four rows, so the micro-kernels have no tails
 * ({@link SimdMlaTile}).
 *
 * <p>Quantized caches: each block below the cache's quantized length is dequantized once into
 * the same one-block F32 staging the BF16 path widens into ({@link SimdQuantStage}) and reused by
 * every group of query rows, as BF16 blocks are: decoding a code costs about what widening a
 * BF16 value does. The recent-token window (BF16, not quantized) goes through the plain path.
 */
final class SimdMlaAttention implements MlaKernel {
  private static final int BLOCK = PagedLayers.BLOCK_TOKENS;

  @Override
  public void attend(MlaShape s, Tensor qRope, Tensor qLatent, int firstQueryPos,
      LatentCache cache, int layer, int from, int to, SoftmaxState state) {
    assert from % BLOCK == 0 && to <= cache.length(layer) : from + ".." + to;
    if (from >= to) {
      return;
    }
    SimdMlaTile tile = new SimdMlaTile(s, state.rows, firstQueryPos);
    tile.load(qRope, qLatent, state);
    if (!cache.format().isQuantized()) {
      for (int p0 = from; p0 < to; p0 += BLOCK) {
        tile.block(cache.latentBlock(layer, p0 / BLOCK), 0, cache.ropeBlock(layer, p0 / BLOCK), 0,
            p0, Math.min(BLOCK, to - p0));
      }
    } else {
      int quantizedEnd = Math.min(to, cache.quantizedLength(layer));
      if (from < quantizedEnd) {
        SimdQuantStage staged = new SimdQuantStage(tile, cache);
        for (int p0 = from; p0 < quantizedEnd; p0 += BLOCK) {
          staged.fold(layer, p0, Math.min(BLOCK, quantizedEnd - p0));
        }
      }
      foldWindow(tile, cache, layer, Math.max(from, quantizedEnd), to);
    }
    tile.store(state);
  }

  /**
   * Folds positions {@code [from, to)} of the recent-token window: still unquantized, read from
   * the ring (and the rope keys from their blocks when those are plain) in runs that neither
   * wrap the ring nor cross a block.
   */
  private static void foldWindow(SimdMlaTile tile, LatentCache cache, int layer, int from, int to) {
    if (from >= to) {
      return;
    }
    int w = cache.format().window();
    Tensor latent = cache.latentWindow(layer);
    boolean ropeInRing = cache.ropeKeysQuantized();
    for (int p = from; p < to; ) {
      int n = Math.min(to - p, Math.min(w - p % w, BLOCK - p % BLOCK));
      Tensor rope = ropeInRing ? cache.ropeWindow(layer) : cache.ropeBlock(layer, p / BLOCK);
      tile.block(latent, p % w, rope, ropeInRing ? p % w : p % BLOCK, p, n);
      p += n;
    }
  }
}
