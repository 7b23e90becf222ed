// Hopper warpgroup MMA (wgmma, sm_90a only) for the MLA decode kernel of mla_wgmma.cu: shared-
// memory matrix descriptors of the 128-byte-swizzled layout, the fence / commit / wait steps, and
// the two instruction shapes the kernels issue (m64n64k16 for the scores, m64n256k16 for P·C),
// with BF16 operands or, for the quantized latent's dequantized tiles, FP16 ones.
//
// Layout of every operand tile in shared memory: column blocks of 64 BF16 (128 bytes) per row,
// each block [rows][128 B] with 8-row atoms of 1024 bytes, 1024-byte aligned, in which the 16-byte
// chunk c of row r sits at chunk c ^ (r % 8) (the hardware's 128B swizzle, applied to the
// address bits, which is why the atoms must be aligned). The same bytes serve as a K-major
// operand (rows = M or N, columns = K: Q~, the keys, P) and as an MN-major one (rows = K: the
// latent rows as the values of P·C).
#ifndef MLA4J_WGMMA_H
#define MLA4J_WGMMA_H

// Byte offset of element (row, col) of a column-block tile with `rows` rows per block.
__device__ __forceinline__ unsigned swz128(int rows, int row, int col) {
  const int chunk = (col & 63) >> 3;
  return (unsigned)((col >> 6) * rows * 128 + row * 128 + ((chunk ^ (row & 7)) << 4) +
                    (col & 7) * 2);
}

// Descriptor of a 128B-swizzled operand at shared byte address `addr`: lbo = bytes between
// column blocks along MN (MN-major operands only), sbo = bytes between 8-row atoms.
__device__ __forceinline__ unsigned long long wgmma_desc(unsigned addr, unsigned lbo,
                                                         unsigned sbo) {
  return (unsigned long long)((addr & 0x3ffffu) >> 4) |
         ((unsigned long long)((lbo & 0x3ffffu) >> 4) << 16) |
         ((unsigned long long)((sbo & 0x3ffffu) >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_wait_all() {
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}
// Shared-memory writes of the generic proxy (st.shared, cp.async) made visible to wgmma's
// asynchronous proxy; each writing thread runs it before the barrier that publishes the writes.
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
// Named barrier `id` over `threads` threads: arrive without waiting (a producer), or wait.
__device__ __forceinline__ void bar_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void bar_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
// Keeps the compiler from moving reads or writes of accumulator registers across an
// asynchronous MMA that owns them until wgmma_wait_all.
template <int N>
__device__ __forceinline__ void wgmma_hold(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}

#define WGMMA_D8(i)                                                                     \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), \
      "+f"(d[i + 6]), "+f"(d[i + 7])

// d[64][64] (+)= A[64][16]·B[64][16]ᵀ, both K-major from shared memory; accumulate 0 zeroes d.
// F16: FP16 operands (the quantized kernel's dequantized tiles), else BF16.
#define WGMMA_M64N64K16(TYPES)                                                     \
  asm volatile(                                                                    \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                 \
      "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPES " {"                      \
      "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"                      \
      "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31"             \
      "}, %32, %33, p, 1, 1, 0, 0;\n}\n"                                            \
      : WGMMA_D8(0), WGMMA_D8(8), WGMMA_D8(16), WGMMA_D8(24)                       \
      : "l"(a), "l"(b), "r"(accumulate))
template <bool F16 = false>
__device__ __forceinline__ void wgmma_m64n64k16(float (&d)[32], unsigned long long a,
                                                unsigned long long b, int accumulate) {
  if constexpr (F16) {
    WGMMA_M64N64K16("f16.f16");
  } else {
    WGMMA_M64N64K16("bf16.bf16");
  }
}
#undef WGMMA_M64N64K16

// The 128 accumulator operands of an m64n256 instruction, as asm text and as constraints.
#define WGMMA_D128_TEXT                                                                     \
  "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"                                   \
  "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"                          \
  "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"                          \
  "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,"                          \
  "%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,"                          \
  "%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,"                          \
  "%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,"              \
  "%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}"
#define WGMMA_D128_OPS                                                                   \
  WGMMA_D8(0), WGMMA_D8(8), WGMMA_D8(16), WGMMA_D8(24), WGMMA_D8(32), WGMMA_D8(40),          \
      WGMMA_D8(48), WGMMA_D8(56), WGMMA_D8(64), WGMMA_D8(72), WGMMA_D8(80), WGMMA_D8(88),    \
      WGMMA_D8(96), WGMMA_D8(104), WGMMA_D8(112), WGMMA_D8(120)

// d[64][256] += A[64][16]·B[16][256], A K-major, B MN-major (rows = K), both from shared memory.
#define WGMMA_M64N256K16_BT(TYPES)                                                 \
  asm volatile("{\n.reg .pred p;\nsetp.eq.b32 p, 1, 1;\n"                          \
               "wgmma.mma_async.sync.aligned.m64n256k16.f32." TYPES " " WGMMA_D128_TEXT \
               ", %128, %129, p, 1, 1, 0, 1;\n}\n"                                  \
               : WGMMA_D128_OPS                                                    \
               : "l"(a), "l"(b))
template <bool F16 = false>
__device__ __forceinline__ void wgmma_m64n256k16_bt(float (&d)[128], unsigned long long a,
                                                    unsigned long long b) {
  if constexpr (F16) {
    WGMMA_M64N256K16_BT("f16.f16");
  } else {
    WGMMA_M64N256K16_BT("bf16.bf16");
  }
}
#undef WGMMA_M64N256K16_BT

// The same with A from registers: a[4] is this thread's m16n8k16-layout fragment of its warp's
// 16 rows (BF16 or FP16 pairs), as an mma.sync A operand.
#define WGMMA_M64N256K16_RS_BT(TYPES)                                              \
  asm volatile("{\n.reg .pred p;\nsetp.eq.b32 p, 1, 1;\n"                          \
               "wgmma.mma_async.sync.aligned.m64n256k16.f32." TYPES " " WGMMA_D128_TEXT \
               ", {%128,%129,%130,%131}, %132, p, 1, 1, 1;\n}\n"                    \
               : WGMMA_D128_OPS                                                    \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b))
template <bool F16 = false>
__device__ __forceinline__ void wgmma_m64n256k16_rs_bt(float (&d)[128], const unsigned (&a)[4],
                                                       unsigned long long b) {
  if constexpr (F16) {
    WGMMA_M64N256K16_RS_BT("f16.f16");
  } else {
    WGMMA_M64N256K16_RS_BT("bf16.bf16");
  }
}
#undef WGMMA_M64N256K16_RS_BT
#undef WGMMA_D8
#undef WGMMA_D128_TEXT
#undef WGMMA_D128_OPS

#endif
