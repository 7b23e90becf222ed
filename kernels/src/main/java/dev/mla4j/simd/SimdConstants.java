package dev.mla4j.simd;

import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Every species decision of the SIMD backend, made once when this class initialises. The float
 * width is the JVM's preferred one unless the system property {@value #BITS_PROPERTY} forces
 * 128, 256 or 512 bits (tests force narrower and wider widths so every lane count and tail runs
 * on any machine; 512 bits on an AVX2 machine is emulated: correct but slow).
 */
final class SimdConstants {
  /** Forces the float vector width in bits: 128, 256 or 512. */
  static final String BITS_PROPERTY = "mla4j.simd.bits";

  /** Float lanes used by every kernel. */
  static final VectorSpecies<Float> FLOATS = floatSpecies();
  /** Float lanes per vector. */
  static final int LANES = FLOATS.length();
  /** 16-bit lanes, as many as {@link #FLOATS}: one BF16/F16 load widens to one float vector. */
  static final VectorSpecies<Short> SHORTS =
      ShortVector.SPECIES_MAX.withShape(VectorShape.forBitSize(LANES * 16));
  /** Int lanes, as many as {@link #FLOATS}: the intermediate of BF16 widening. */
  static final VectorSpecies<Integer> INTS = IntVector.SPECIES_MAX.withShape(FLOATS.vectorShape());
  /**
   * Byte lanes for quantized caches: as many as {@link #FLOATS} where that is at least the 64-bit
   * minimum vector, else 8 (128-bit floats: a load reads 8 bytes and uses the first 4).
   */
  static final VectorSpecies<Byte> BYTES =
      ByteVector.SPECIES_MAX.withShape(VectorShape.forBitSize(Math.max(64, LANES * 8)));
  /** Vector loads and stores use the byte order {@link dev.mla4j.tensor.DType} writes in. */
  static final ByteOrder ORDER = ByteOrder.nativeOrder();

  private SimdConstants() {}

  private static VectorSpecies<Float> floatSpecies() {
    String forced = System.getProperty(BITS_PROPERTY);
    if (forced != null && !forced.isBlank()) {
      return switch (forced.trim()) {
        case "128" -> FloatVector.SPECIES_128;
        case "256" -> FloatVector.SPECIES_256;
        case "512" -> FloatVector.SPECIES_512;
        default -> throw new IllegalStateException(
            "-D" + BITS_PROPERTY + "=" + forced + ": unsupported vector width (use 128, 256 or 512)");
      };
    }
    VectorSpecies<Float> preferred = FloatVector.SPECIES_PREFERRED;
    if (preferred.vectorBitSize() < 128) {
      throw new IllegalStateException("preferred float vector is only " + preferred.vectorBitSize()
          + " bits: this CPU or JVM has no useful SIMD, use the scalar backend");
    }
    return preferred;
  }
}
