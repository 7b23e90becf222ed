/**
 * The SIMD backend: {@link dev.mla4j.simd.SimdBackend} and its kernels (linear layers, partial
 * RoPE, absorbed MLA and MHA/GQA attention, over plain caches and over int8/int4/fp8 caches, whose
 * codes MLA dequantizes once per block into its F32 staging and MHA in registers) written with
 * the JDK Vector API.
 *
 * <p>This is the only package that imports {@code jdk.incubator.vector}; nothing outside it may
 * reference its classes directly ({@link dev.mla4j.api.Backends} loads the backend by name after
 * checking that the module is readable). It depends on {@code api}, {@code attention},
 * {@code cache}, {@code rope} and {@code tensor}, never on {@code scalar}. Species choices live in
 * {@code SimdConstants}; per-thread scratch buffers in {@code SimdScratch}.
 */
package dev.mla4j.simd;
