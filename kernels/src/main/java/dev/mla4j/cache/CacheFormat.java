package dev.mla4j.cache;

import dev.mla4j.tensor.DType;
import java.util.Locale;

/**
 * How a cache stores its tokens: plain F32/BF16/F16, or int8/int4/fp8 with per-token group scales
 * (spec 5.2), optionally keeping the most recent {@code window} tokens unquantized.
 *
 * <p>Quantized rows (the MLA latent, and the rope keys when {@link #quantizeRopeKeys}; both K and
 * V of an MHA cache) are cut into segments (the whole latent, or one kv head of rope keys / K /
 * V), each segment into groups of {@link #groupSize} elements, the last group of a segment
 * shorter when the group size does not divide it. Each group has one scale: symmetric absmax,
 * {@code scale = max|x| / qmax} (qmax 127 for int8, 7 for int4) stored as BF16 rounded up so no
 * code clips, and codes {@code round(x / scale)} in {@code [-qmax, qmax]} (FP8: the E4M3 value
 * nearest {@code x / scale}, qmax 448). Layout and bytes:
 * {@link QuantizedLayout}.
 *
 * @param dtype storage of everything not quantized: plain caches, rope keys by default, and the
 *     recent window
 * @param quantization {@link Quantization#NONE} for a plain cache
 * @param groupSize elements per scale (even, >= 2); 0 for plain caches
 * @param window most recent tokens kept in {@code dtype} before they are quantized (>= 0)
 * @param quantizeRopeKeys MLA only: quantize the rope keys too (default: kept in {@code dtype})
 */
public record CacheFormat(DType dtype, Quantization quantization, int groupSize, int window,
    boolean quantizeRopeKeys) {

  /** Group size of {@link #int8()} and {@link #int4()}: HF QuantizedCache's default. */
  public static final int DEFAULT_GROUP = 64;

  /** Code format of a quantized cache: integer codes, or FP8 E4M3 values. */
  public enum Quantization {
    NONE(0),
    INT8(127),
    INT4(7),
    /**
     * OCP FP8 E4M3 ("e4m3fn": bias 7, no infinities, largest 448, NaN 0x7f/0xff) codes of
     * {@code x / scale}, rounded to nearest even ({@link E4m3}); the format the GPU decode kernels
     * read natively. "Per-block" scales in the FP8 sense: one scale per 1 x groupSize block of a
     * token's row, as for int8.
     */
    FP8(448);

    private final int qmax;

    Quantization(int qmax) {
      this.qmax = qmax;
    }

    /** Largest code magnitude: codes lie in {@code [-qmax, qmax]}. */
    public int qmax() {
      return qmax;
    }
  }

  public CacheFormat {
    if (dtype == null || quantization == null) {
      throw new IllegalArgumentException("cache format needs a dtype and a quantization");
    }
    if (quantization == Quantization.NONE) {
      if (groupSize != 0 || window != 0 || quantizeRopeKeys) {
        throw new IllegalArgumentException("a plain " + dtype + " cache takes no group size, "
            + "window or rope-key quantization (use int8, int4 or fp8 for those)");
      }
    } else {
      if (groupSize < 2 || groupSize % 2 != 0) {
        throw new IllegalArgumentException("quantized cache group size must be even and >= 2, got "
            + groupSize + " (32 to 128 are usual)");
      }
      if (window < 0) {
        throw new IllegalArgumentException("recent-token window must be >= 0, got " + window);
      }
    }
  }

  /** A plain cache in {@code dtype}: what {@code new LatentCache(shape, layers, dtype, n)} makes. */
  public static CacheFormat plain(DType dtype) {
    return new CacheFormat(dtype, Quantization.NONE, 0, 0, false);
  }

  public static CacheFormat int8(int groupSize) {
    return new CacheFormat(DType.BF16, Quantization.INT8, groupSize, 0, false);
  }

  public static CacheFormat int4(int groupSize) {
    return new CacheFormat(DType.BF16, Quantization.INT4, groupSize, 0, false);
  }

  public static CacheFormat fp8(int groupSize) {
    return new CacheFormat(DType.BF16, Quantization.FP8, groupSize, 0, false);
  }

  public static CacheFormat int8() {
    return int8(DEFAULT_GROUP);
  }

  public static CacheFormat int4() {
    return int4(DEFAULT_GROUP);
  }

  /** This format keeping the last {@code tokens} tokens unquantized. */
  public CacheFormat withWindow(int tokens) {
    return new CacheFormat(dtype, quantization, groupSize, tokens, quantizeRopeKeys);
  }

  /** This format with the MLA rope keys quantized like the latent. */
  public CacheFormat withQuantizedRopeKeys() {
    return new CacheFormat(dtype, quantization, groupSize, window, true);
  }

  public boolean isQuantized() {
    return quantization != Quantization.NONE;
  }

  /**
   * Parses {@code f32}, {@code bf16}, {@code f16}, {@code int8}, {@code int4} or {@code fp8}
   * (any case); the quantized ones take {@code groupSize}, {@code window} and
   * {@code quantizeRopeKeys}.
   */
  public static CacheFormat parse(String name, int groupSize, int window, boolean quantizeRopeKeys) {
    String n = name.trim().toUpperCase(Locale.ROOT);
    return switch (n) {
      case "INT8", "INT4", "FP8" -> {
        CacheFormat f = new CacheFormat(DType.BF16, Quantization.valueOf(n), groupSize, window,
            quantizeRopeKeys);
        yield f;
      }
      case "F32", "BF16", "F16" -> plain(DType.valueOf(n));
      default -> throw new IllegalArgumentException("unknown cache format '" + name
          + "': use F32, BF16, F16, INT8, INT4 or FP8");
    };
  }

  @Override
  public String toString() {
    if (!isQuantized()) {
      return dtype.toString();
    }
    return quantization + " (group " + groupSize + ", BF16 scales"
        + (window > 0 ? ", last " + window + " tokens " + dtype : "")
        + (quantizeRopeKeys ? ", rope keys quantized" : "") + ")";
  }
}
