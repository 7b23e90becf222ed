package dev.mla4j.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;

/**
 * What the Vector API offers in this JVM. Use only where {@code jdk.incubator.vector} is
 * present ({@link EnvironmentInfo#vectorModulePresent()}): this class links against it.
 */
final class VectorWidth {
  private VectorWidth() {}

  /** Float lanes of the preferred species (8 on AVX2, 16 on AVX-512). */
  static int floatLanes() {
    return FloatVector.SPECIES_PREFERRED.length();
  }

  /** e.g. {@code preferred 256 bits (8 float lanes), max 256 bits}. */
  static String describe() {
    return "preferred " + VectorShape.preferredShape().vectorBitSize() + " bits ("
        + floatLanes() + " float lanes), max " + FloatVector.SPECIES_MAX.vectorBitSize() + " bits";
  }
}
