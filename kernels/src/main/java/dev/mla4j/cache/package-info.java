/**
 * Paged caches in 64-token blocks: {@link dev.mla4j.cache.LatentCache} (MLA latent plus rope keys, spec 4.2) and {@link dev.mla4j.cache.KvCache} (the MHA/GQA baseline). Depends on api (shapes) and tensor.
 */
package dev.mla4j.cache;
