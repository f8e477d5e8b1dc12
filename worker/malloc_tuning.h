// How hpo-worker's allocator treats the large, short-lived buffers of
// training (activations and gradients of tens of megabytes, allocated and
// freed every step).
#ifndef HPO_WORKER_MALLOC_TUNING_H_
#define HPO_WORKER_MALLOC_TUNING_H_

#if defined(__GLIBC__)
#include <malloc.h>

#include <climits>
#endif

namespace hpo {

// Makes glibc keep freed memory for reuse instead of returning it to the
// system: no mmap for large blocks, no trimming of the heap. By default
// glibc maps each block above its threshold (up to 32 MiB) afresh and unmaps
// it when freed, so every training step zero-fills its activations again
// through page faults: 0.35-1.8 GB of faults per step of a 128 x 128 conv
// model at batch 32, 40-50% of its CPU time (BENCHMARKS.md, "Training
// throughput (CPU)"). The cost: the process keeps its peak memory. A no-op
// on other C libraries.
inline void RetainFreedMemory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

}  // namespace hpo

#endif  // HPO_WORKER_MALLOC_TUNING_H_
