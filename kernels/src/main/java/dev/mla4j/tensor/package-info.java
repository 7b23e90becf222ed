/**
 * Off-heap storage: {@link dev.mla4j.tensor.DType} (F32, BF16, F16) and {@link dev.mla4j.tensor.Tensor}, a 2-D strided view of a MemorySegment. Depends on nothing else in mla4j.
 */
package dev.mla4j.tensor;
