/**
 * Paged caches in 64-token blocks: {@link dev.mla4j.cache.LatentCache} (MLA latent plus rope keys, spec 4.2) and {@link dev.mla4j.cache.KvCache} (the MHA/GQA baseline), in a {@link dev.mla4j.cache.CacheFormat}: plain F32/BF16/F16, or int8/int4/fp8 (E4M3, {@link dev.mla4j.cache.E4m3}) with per-token group scales quantized on append ({@link dev.mla4j.cache.QuantizedLayout}, read by kernels as {@link dev.mla4j.cache.QuantizedBlock}s) and an optional unquantized window of recent tokens. Depends on api (shapes) and tensor.
 */
package dev.mla4j.cache;
