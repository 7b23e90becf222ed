/**
 * The linear maps of an MHA2MLA layer around its latent (down, up, absorbed query and output), expressed on a {@link dev.mla4j.api.Backend}. Depends on api and tensor.
 */
package dev.mla4j.projection;
