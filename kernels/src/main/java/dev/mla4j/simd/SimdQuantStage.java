package dev.mla4j.simd;

import static dev.mla4j.simd.SimdConstants.LANES;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.cache.QuantizedBlock;
import dev.mla4j.cache.QuantizedLayout;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Dequantizes one quantized 64-token block into a {@link SimdMlaTile}'s staging rows
 * ({@code c [64][lp]}, {@code kr [64][krw]}), the same one-block F32 staging the BF16 path widens
 * into, so that every group of query rows reuses the decoded block instead of decoding each code
 * again per group (an earlier kernel that did so, in registers, ran 2-3x slower than BF16). The
 * staging holds one block, never the cache: 64·lp floats, reused for the next block. Vector
 * loads of codes as in {@link SimdQuantLoads}; group tails element by element.
 */
final class SimdQuantStage {
  /** Scratch slots after {@link SimdMlaTile}'s. */
  private static final int ROPE_ROW = 7;
  private static final int SCALES = 8;

  private final SimdMlaTile tile;
  private final LatentCache cache;
  private final Quantization quantization;
  private final float[] ropeRow;

  SimdQuantStage(SimdMlaTile tile, LatentCache cache) {
    this.tile = tile;
    this.cache = cache;
    this.quantization = cache.format().quantization();
    this.ropeRow = SimdScratch.floats(ROPE_ROW, tile.ropeKeys * tile.ropeDim);
  }

  /** Stages and folds positions {@code [p0, p0+n)} of one block (p0 a multiple of 64). */
  void fold(int layer, int p0, int n) {
    stage(layer, p0, n);
    tile.foldStaged(p0, n);
  }

  /** Dequantizes positions {@code [p0, p0+n)} of one block into the tile's staging rows. */
  void stage(int layer, int p0, int n) {
    int block = p0 / SimdMlaTile.BLOCK;
    QuantizedBlock latent = cache.latentCodes(layer, block);
    if (flat(latent.layout(), latent.scales())) {
      stageFlat(latent, n);
    } else {
      stageByGroup(latent, n);
    }
    stageRope(layer, block, n);
  }

  /**
   * Whether a block's latent can be staged as one run of codes: no padding in the staging rows,
   * every group full, of a power-of-two size that pairs of whole vectors of codes tile (int4: of
   * bytes), and scales at an even byte offset so they widen as BF16 vectors.
   */
  private boolean flat(QuantizedLayout l, long scales) {
    int g = l.groupSize();
    int codesPerStep = (quantization == Quantization.INT4 ? 4 : 2) * LANES;
    return tile.lp == tile.latentDim && l.segmentLength() % g == 0 && Integer.bitCount(g) == 1
        && g % codesPerStep == 0 && (scales & 1) == 0;
  }

  /**
   * The block's n rows as one run: codes are row-major with no gaps ({@code [n][L]} bytes, int4
   * {@code [n][L/2]}) and so are their staging rows, so element e's group is {@code e >>> log2 g}
   * across row ends. The scales are widened first, in one pass; then one loop, two vectors of
   * codes per step under one scale, with no per-group set-up. The int8 codes of a 64 x 512 block
   * held in cache (2-core AMD EPYC, AVX2) took 10.4 us group by group, 7.1 with one vector per
   * step, 5.8 with two; see StagingBenchmark for whole blocks read from a cache.
   */
  private void stageFlat(QuantizedBlock latent, int n) {
    QuantizedLayout l = latent.layout();
    MemorySegment seg = latent.data();
    long codes = latent.codes();
    int shift = Integer.numberOfTrailingZeros(l.groupSize());
    int count = n * tile.latentDim;
    float[] s = SimdScratch.floats(SCALES, n * l.groupsPerSegment());
    SimdLoads.widenBf16(seg, latent.scales() / 2, n * l.groupsPerSegment(), s, 0);
    float[] c = tile.c;
    if (quantization == Quantization.INT8) {
      for (int e = 0; e < count; e += 2 * LANES) {
        float g = s[e >>> shift];
        SimdQuantLoads.int8(seg, codes + e).mul(g).intoArray(c, e);
        SimdQuantLoads.int8(seg, codes + e + LANES).mul(g).intoArray(c, e + LANES);
      }
    } else if (quantization == Quantization.FP8) {
      for (int e = 0; e < count; e += 2 * LANES) {
        float g = s[e >>> shift];
        SimdQuantLoads.fp8(seg, codes + e).mul(g).intoArray(c, e);
        SimdQuantLoads.fp8(seg, codes + e + LANES).mul(g).intoArray(c, e + LANES);
      }
    } else {
      int half = l.groupSize() / 2;
      for (int b = 0; b < count / 2; b += 2 * LANES) {
        int group = b >>> (shift - 1);
        int at = (group << shift) + (b & (half - 1));
        float g = s[group];
        SimdQuantLoads.lowNibbles(seg, codes + b).mul(g).intoArray(c, at);
        SimdQuantLoads.lowNibbles(seg, codes + b + LANES).mul(g).intoArray(c, at + LANES);
        SimdQuantLoads.highNibbles(seg, codes + b).mul(g).intoArray(c, at + half);
        SimdQuantLoads.highNibbles(seg, codes + b + LANES).mul(g).intoArray(c, at + half + LANES);
      }
    }
  }

  /** The general case, any group geometry: row by row and group by group, tails included. */
  private void stageByGroup(QuantizedBlock latent, int n) {
    // the layout's strides once per block: QuantizedLayout derives them with integer divisions
    QuantizedLayout l = latent.layout();
    long rowBytes = l.rowBytes();
    long scaleBytes = 2L * l.scalesPerRow();
    long groupBytes = l.groupBytes(l.groupSize());
    int groups = l.groupsPerSegment();
    for (int t = 0; t < n; t++) {
      row(latent.data(), latent.codes() + t * rowBytes, latent.scales() + t * scaleBytes, l,
          groups, groupBytes, tile.c, t * tile.lp);
      Arrays.fill(tile.c, t * tile.lp + tile.latentDim, (t + 1) * tile.lp, 0f);
    }
  }

  private void stageRope(int layer, int block, int n) {
    if (tile.ropeDim > 0) {
      if (cache.ropeKeysQuantized()) {
        QuantizedBlock rope = cache.ropeCodes(layer, block);
        for (int t = 0; t < n; t++) {
          rope.dequantize(t, ropeRow, 0);
          for (int k = 0; k < tile.ropeKeys; k++) {
            int dst = t * tile.krw + k * tile.drp;
            System.arraycopy(ropeRow, k * tile.ropeDim, tile.kr, dst, tile.ropeDim);
            Arrays.fill(tile.kr, dst + tile.ropeDim, dst + tile.drp, 0f);
          }
        }
      } else {
        tile.stageRope(cache.ropeBlock(layer, block), 0, n);
      }
    }
  }

  /**
   * One token's row of a one-segment latent block (codes at byte {@code codes}, scales at byte
   * {@code scales} of seg), codes times group scale, into dst.
   */
  private void row(MemorySegment seg, long codes, long scales, QuantizedLayout l, int groups,
      long groupBytes, float[] dst, int off) {
    for (int g = 0; g < groups; g++) {
      int m = l.groupLength(g);
      long group = codes + g * groupBytes;
      float s = SimdQuantLoads.scale(seg, scales, g);
      int at = off + g * l.groupSize();
      if (quantization == Quantization.INT4) {
        int4Group(seg, group, m, s, dst, at);
      } else {
        boolean fp8 = quantization == Quantization.FP8;
        int e = 0;
        for (; e + LANES <= m; e += LANES) {
          SimdQuantLoads.byteCodes(seg, group + e, fp8).mul(s).intoArray(dst, at + e);
        }
        for (; e < m; e++) {
          dst[at + e] = s * SimdQuantLoads.code(seg, group, e, m, quantization);
        }
      }
    }
  }

  /** A group of m int4 codes: byte j holds element j (low nibble) and j + ceil(m/2) (high). */
  private static void int4Group(MemorySegment seg, long group, int m, float s, float[] dst, int at) {
    int half = (m + 1) / 2;
    int e = 0;
    for (; e + LANES <= m - half; e += LANES) {
      SimdQuantLoads.lowNibbles(seg, group + e).mul(s).intoArray(dst, at + e);
      SimdQuantLoads.highNibbles(seg, group + e).mul(s).intoArray(dst, at + half + e);
    }
    for (int i = e; i < half; i++) {
      dst[at + i] = s * SimdQuantLoads.code(seg, group, i, m, Quantization.INT4);
    }
    for (int i = half + e; i < m; i++) {
      dst[at + i] = s * SimdQuantLoads.code(seg, group, i, m, Quantization.INT4);
    }
  }
}
