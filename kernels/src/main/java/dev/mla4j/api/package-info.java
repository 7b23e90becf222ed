/**
 * The public entry points: {@link dev.mla4j.api.Backend} (every kernel, shape-checked and split over threads), {@link dev.mla4j.api.Backends} (run-time selection) and the layer shapes. Depends on tensor, rope, cache and attention; never on simd or cuda directly (those are loaded by name).
 */
package dev.mla4j.api;
