/**
 * Partial RoPE description (spec section 2): kept frequency pairs per (layer, kv head), pair layouts and rope scaling. Pure data; the kernels that apply it live in the backends. Depends on nothing else in mla4j.
 */
package dev.mla4j.rope;
