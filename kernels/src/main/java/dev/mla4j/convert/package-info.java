/**
 * MHA2MLA conversion math (spec sections 2-3 and 9.2).
 *
 * <ul>
 *   <li>Calibration listeners ({@link dev.mla4j.model.AttentionInputListener}):
 *       {@link dev.mla4j.convert.PairNormStats} (mean RoPE pair norms of q and k, spec 2.3) and
 *       {@link dev.mla4j.convert.InputMoments} (per-layer {@code E[x xᵀ]}, spec 9.2).</li>
 *   <li>{@link dev.mla4j.convert.PairSelection}: S_high, S_low, S_uniform (reference code's
 *       formula), S_2-norm with the product score or the older sum score.</li>
 *   <li>Truncated SVDs: {@link dev.mla4j.convert.Svd#exact} (Commons Math, small matrices) and
 *       {@link dev.mla4j.convert.RandomizedSvd} (all large products on the backend's GEMM);
 *       {@link dev.mla4j.convert.ActivationAwareSvd}; {@link dev.mla4j.convert.SigmaPlacement}.</li>
 *   <li>{@link dev.mla4j.convert.MlaConverter}: one layer to
 *       {@link dev.mla4j.model.MlaAttentionWeights}.</li>
 * </ul>
 *
 * <p>Where paper and code disagree (spec 10) both are offered: Σ placement
 * ({@code SQRT_BOTH} = paper, {@code UP} = reference code and released checkpoints, the default of
 * {@code Options.joint}); SVD_split width ({@code PAPER}: n_kv·d_kv/2 per side, cache equal to
 * joint's; {@code CODE}: n_kv·d_kv per side, cache twice joint's); 2-norm score (product = paper
 * and current code; sum = the score files of the released checkpoints).
 *
 * <p>Depends on api, tensor, model and Commons Math (dense factorizations of at most a few
 * thousand rows; the eigendecompositions are O(n³) in plain Java and dominate for
 * n ≳ 1000, e.g. the activation-aware SVD at d = 4096).
 */
package dev.mla4j.convert;
