/**
 * Plain-Java kernels: always available, written to be read, and the baseline every other backend is tested against besides the oracle. Depends on api, attention, cache, rope and tensor; never on jdk.incubator.vector.
 */
package dev.mla4j.scalar;
