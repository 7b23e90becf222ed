/**
 * Backend-independent attention plumbing: the kernel interfaces each backend implements, the online-softmax state, and the split of causal attention into query tiles and split-KV ranges merged by log-sum-exp. Depends on api, cache and tensor.
 */
package dev.mla4j.attention;
