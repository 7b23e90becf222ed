// Parameter structs shared by the host (mirrored in dev.mla4j.cuda.*Params) and the kernels.
// Plain C, fixed-size fields only: pointers first, then 64-bit, then 32-bit fields, so the
// layout is the same under nvcc, NVRTC and Java's MemoryLayout without any packing pragma.
#ifndef MLA4J_PARAMS_H
#define MLA4J_PARAMS_H

// Storage type codes of caches and weights (same order as dev.mla4j.tensor.DType).
#define MLA4J_F32 0
#define MLA4J_BF16 1
#define MLA4J_F16 2

// Quantization of a cache part (same order as dev.mla4j.cache.CacheFormat.Quantization): codes
// [64][code_row] bytes then scales [64][scale_row] BF16 in the block; each segment of seg elements
// is cut into groups of quant_group, one scale per group (QuantizedLayout in Java).
#define MLA4J_Q_NONE 0
#define MLA4J_Q_INT8 1
#define MLA4J_Q_INT4 2
#define MLA4J_Q_FP8 3

// Tokens per cache block (PagedLayers.BLOCK_TOKENS).
#define MLA4J_BLOCK_TOKENS 64
// Threads of one attention CTA and of one merge CTA.
#define MLA4J_ATTN_THREADS 256
#define MLA4J_MERGE_THREADS 256
#define MLA4J_MERGE_SLICE 128  // output columns per merge CTA
#define MLA4J_MERGE_AHEAD 8    // loads a merge thread issues together; at most this many splits: one warp
// Threads of one append CTA (8 warps: 8 groups of a quantized part at a time).
#define MLA4J_APPEND_THREADS 256

// Paged decode/prefill attention, one kernel for MLA (absorbed) and MHA/GQA.
// Query row = (seq·T + t)·n_h + h, at position first_pos[seq] + t, causal.
// score(row, τ) = (qa[row]·A[τ][kv·a_kv_stride ..+a_width] + qb[row]·B[τ][kv·b_kv_stride ..+b_width])·scale
// value(row, τ) = V[τ][kv·v_kv_stride ..+v_width]        (kv = h / group)
//   MLA: A = latent c [64][L] (a_kv_stride 0), B = rope keys [64][n_kv·d_r or d_r], V = A.
//   MHA: A = keys [64][n_kv·d_h] (a_kv_stride d_h), no B, V = values [64][n_kv·d_h].
typedef struct {
  const float* qa;              // [seqs·T·n_h][a_width]  MLA q~, MHA q
  const float* qb;              // [seqs·T·n_h][b_width]  MLA rotated q_rope; null when b_width 0
  const unsigned char* pool;    // cache blocks, block_bytes each: part A, part B, part V
  const int* block_table;       // [seqs][max_blocks] block index into pool
  const int* first_pos;         // [seqs] position of query token 0
  float* out;                   // [seqs·T·n_h][v_width] normalized output
  float* part_acc;              // [splits][seqs·T·n_h][v_width] unnormalized, when splits > 1
  float* part_ml;               // [splits][seqs·T·n_h][2] running max and sum, when splits > 1
  long long block_bytes;        // bytes of one block
  long long a_offset;           // byte offset of part A inside a block
  long long b_offset;
  long long v_offset;
  long long a_scales, b_scales, v_scales;  // byte offset of a quantized part's scales in a block
  int a_row, b_row, v_row;      // elements per token row of each part
  int a_width, b_width, v_width;        // elements used per head
  int a_kv_stride, b_kv_stride, v_kv_stride;  // column step per kv head (0: shared by all)
  int heads;                    // n_h
  int group;                    // n_h / n_kv
  int tokens;                   // T query tokens per sequence
  int seqs;
  int max_blocks;               // columns of block_table
  int splits;                   // key ranges per row (gridDim.x)
  int blocks_per_split;         // 64-token blocks per key range
  int heads_per_cta;            // HG, divides n_h
  int tile_tokens;              // TK tokens staged in shared memory at a time
  int dtype;                    // MLA4J_F32 / BF16 / F16
  float scale;                  // softmax scale
  int value_is_a;               // 1: V is part A (MLA), no separate V tile
  int a_quant, b_quant, v_quant;            // MLA4J_Q_* of each part
  int a_seg, b_seg, v_seg;                  // elements per quantized segment
  int a_code_row, b_code_row, v_code_row;   // code bytes per token row
  int a_scale_row, b_scale_row, v_scale_row;  // scales per token row
  int quant_group;              // elements per scale (quantized parts)
  int key_limit;                // keys at positions >= key_limit are skipped (generic kernel;
                                // INT_MAX: none); a window's keys then come from another cache
  int pad;
} PagedAttnParams;

// Writes F32 rows into one part of a paged cache: row seq·T + t goes to position
// pos = first_pos[seq] + t, slot pos % 64 of block block_table[seq][pos / 64]. A plain part stores
// dtype (round to nearest even, as Tensor.set); a quantized part codes and BF16 scales exactly as
// QuantizedLayout.quantize (one warp per group).
typedef struct {
  const float* src;             // [seqs·T][src_stride], width columns used
  unsigned char* pool;          // cache blocks, block_bytes each
  const int* block_table;       // [seqs][max_blocks]
  const int* first_pos;         // [seqs] position of row 0 of each sequence
  long long block_bytes;
  long long part_offset;        // byte offset of the part (its codes) in a block
  long long scales_offset;      // byte offset of a quantized part's scales in a block
  long long src_stride;         // elements between rows of src
  int width;                    // elements per row
  int tokens;                   // T rows per sequence
  int seqs;
  int max_blocks;               // columns of block_table
  int dtype;                    // plain part: MLA4J_F32 / BF16 / F16
  int quant;                    // MLA4J_Q_*
  int seg, group;               // quantized part: elements per segment and per scale
  int code_row, scale_row;      // quantized part: code bytes and scales per row
} AppendParams;

// Naive-form MLA prefill (spec 4.1), first step: the latent rows of keys [0, keys) of one
// sequence gathered from a paged cache into a dense matrix (the input of the decompression
// GEMMs), and their rope keys into the first rope_width columns of each expanded head's K in a
// row [K_0 .. K_{n_e-1} | V_0 .. V_{n_e-1}], K_j = [k_R | k_N] of head_stride = d_k columns.
typedef struct {
  const unsigned char* pool;    // source cache blocks: latent part A, rope part B
  const int* block_table;       // [ceil(keys / 64)] blocks of the sequence
  unsigned short* latent;       // [keys][latent_width] dense copy (cache dtype)
  unsigned short* kv;           // [keys][kv_row] expanded rows, 64-row blocks back to back
  long long block_bytes;
  long long a_offset, b_offset; // byte offsets of the latent and rope parts in a block
  int a_row, b_row;             // elements per token row of each part
  int latent_width;             // L
  int kv_heads;                 // n_e expanded heads (MHA2MLA: n_kv; DeepSeek: n_h)
  int rope_width;               // d_r per kv head
  int rope_kv_stride;           // column step per kv head in a rope row (0: shared rope key)
  int head_stride;              // columns per expanded head in K: d_k = d_r + d_nope
  int kv_row;                   // elements per expanded row: n_e·(d_k + d_v)
  int keys;
  int pad;
} ExpandParams;

// Log-sum-exp merge of split partial states: one CTA per query row.
typedef struct {
  const float* part_acc;        // [splits][rows][width]
  const float* part_ml;         // [splits][rows][2]
  float* out;                   // [rows][width]
  int rows, width, splits, pad;
} MergeParams;

// Partial RoPE on compact vectors in place (spec 2.4).
typedef struct {
  float* x;                     // [T][row_stride], heads·d_r used columns per row
  const int* positions;         // [T]
  const float* inv_freq;        // [n_kv][r] kept θ of the layer
  const int* first;             // [r] index of pair m's first element
  const int* second;            // [r] index of pair m's second element
  long long row_stride;         // elements between rows of x
  int tokens, heads, r, group;  // group = heads per kv head of the rope table
  float attention;              // attention factor multiplying cos and sin
  int pad;
} RopeParams;

// y[t][o] = Σ_i x[t][i]·w[o][i] (transposed = 0), or y[t][i] = Σ_o x[t][o]·w[o][i] (1).
typedef struct {
  const float* x;               // [T][x_stride]
  const void* w;                // [rows_w][w_stride] in dtype
  float* y;                     // [T][y_stride]
  long long x_stride, w_stride, y_stride;
  int tokens, w_rows, w_cols, dtype;
} LinearParams;

// Rounds F32 activations to BF16 or F16 (round to nearest even) into a dense copy, the input of
// the cuBLAS projection GEMM (cublasGemmEx takes A and B in one type): dst[t][i] = src[t][i].
typedef struct {
  const float* src;             // [rows][src_stride], cols used
  void* dst;                    // [rows][cols] in dtype
  long long src_stride;         // elements between rows of src
  int rows, cols;
  int dtype;                    // MLA4J_BF16 / F16
  int pad;
} RoundParams;

// Fills n elements of dtype with a deterministic hash of (seed, index) in [-1, 1): bench data.
typedef struct {
  void* dst;
  long long n;
  unsigned int seed;
  int dtype;
} FillParams;

// Tensor-core peak probe: every warp runs iters rounds of MMA_PEAK_CHAINS independent
// m16n8k16 BF16 MMAs on register operands, then writes one float per thread (so the work is live).
typedef struct {
  float* out;  // [blocks · threads]
  long long iters;
} PeakParams;

// Read-bandwidth probe (read_peak.cu): bytes of src (a multiple of 16, 16-byte aligned) streamed
// once; each thread writes the XOR of the 32-bit words it read.
#define READ_PEAK_THREADS 512
#define READ_PEAK_BLOCKS_PER_SM 4  // a full SM (2048 threads): the launch is one wave
typedef struct {
  const void* src;
  unsigned int* out;  // [blocks · READ_PEAK_THREADS]
  long long bytes;
} ReadPeakParams;

#endif
