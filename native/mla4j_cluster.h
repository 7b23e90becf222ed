// Thread-block clusters (sm_90 and later): the CTA's rank and the cluster's size, the cluster-wide
// barrier, and loads from another CTA's shared memory (distributed shared memory, DSMEM). Below
// sm_90 a grid has no clusters: cluster_size() is 1 and nothing else may be called.
//
// Used by the split attention kernels to combine the partial states of the C key-range splits of
// one cluster on chip (mla_mma.cu), so that the merge kernel reads C times fewer of them.
#ifndef MLA4J_CLUSTER_H
#define MLA4J_CLUSTER_H

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define MLA4J_HAS_CLUSTERS 1
#else
#define MLA4J_HAS_CLUSTERS 0
#endif

// CTAs in this CTA's cluster: 1 for a launch without the cluster attribute.
__device__ __forceinline__ unsigned cluster_size() {
#if MLA4J_HAS_CLUSTERS
  unsigned n;
  asm volatile("mov.u32 %0, %%cluster_nctarank;\n" : "=r"(n));
  return n;
#else
  return 1;
#endif
}

#if MLA4J_HAS_CLUSTERS
__device__ __forceinline__ unsigned cluster_rank() {
  unsigned r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return r;
}

// Every thread of every CTA of the cluster arrives; shared-memory writes before it are visible
// to loads after it in any CTA of the cluster (arrive has release and wait acquire semantics by
// default, which keeps this valid PTX for older NVRTC versions too).
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.aligned;\n"
               "barrier.cluster.wait.aligned;\n" ::: "memory");
}

// The address of this CTA's shared byte `addr` in the shared memory of CTA `rank`.
__device__ __forceinline__ unsigned cluster_map(unsigned addr, unsigned rank) {
  unsigned r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(addr), "r"(rank));
  return r;
}

__device__ __forceinline__ float cluster_load(unsigned addr) {
  float v;
  asm volatile("ld.shared::cluster.f32 %0, [%1];\n" : "=f"(v) : "r"(addr) : "memory");
  return v;
}

__device__ __forceinline__ float4 cluster_load4(unsigned addr) {
  float4 v;
  asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];\n"
               : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
               : "r"(addr)
               : "memory");
  return v;
}
#endif
#endif
