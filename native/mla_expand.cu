// Naive-form MLA prefill (spec 4.1), the gather step (ExpandParams): one CTA per 64-token cache
// block copies the block's latent rows into the dense latent matrix that the decompression GEMMs
// (cuBLAS, MlaNaivePrefill) read, and its rope keys into the k_R columns of the expanded K rows,
// whose k_N columns and V the GEMMs then write. A bandwidth-trivial copy next to the GEMMs
// (keys·(L + n_kv·d_r) elements), so plain 16-bit copies, any width.
#include "mla4j_device.h"

#define EXPAND_THREADS 256

extern "C" __global__ void __launch_bounds__(EXPAND_THREADS)
mla4j_mla_expand_gather(const ExpandParams p) {
  const int tok0 = blockIdx.x * MLA4J_BLOCK_TOKENS;
  const int n = min(MLA4J_BLOCK_TOKENS, p.keys - tok0);
  const unsigned char* block = p.pool + (long long)p.block_table[blockIdx.x] * p.block_bytes;
  const unsigned short* a = (const unsigned short*)(block + p.a_offset);
  const unsigned short* b = (const unsigned short*)(block + p.b_offset);
  const int lw = p.latent_width;
  for (int i = threadIdx.x; i < n * lw; i += EXPAND_THREADS) {
    const int r = i / lw, c = i - r * lw;
    p.latent[(long long)(tok0 + r) * lw + c] = a[(long long)r * p.a_row + c];
  }
  const int rw = p.kv_heads * p.rope_width;
  for (int i = threadIdx.x; i < n * rw; i += EXPAND_THREADS) {
    const int r = i / rw, c = i - r * rw;
    const int j = c / p.rope_width, e = c - j * p.rope_width;
    p.kv[(long long)(tok0 + r) * p.kv_row + j * p.head_stride + e] =
        b[(long long)r * p.b_row + j * p.rope_kv_stride + e];
  }
}
