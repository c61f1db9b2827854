#include "training/allocator_tuning.h"

#include <climits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace coughkit::training {

// Measured on 2 cores (bench/training_vs_pytorch.sh, and `coughkit train` on a small
// corpus): with glibc's defaults a step of 16 bags x 5 segments spent ~16 s of ~33 s in
// the kernel on ~6.7 M minor page faults (PyTorch 1.13 from Python the same). With these
// settings ~5 s and ~0.9 M faults: 1.3-1.6x the segments per second, at ~1.7x the peak
// RSS (freed blocks stay in the heap for the next step's tensors of the same sizes).
bool keep_large_allocations_in_heap() {
#if defined(__GLIBC__)
  bool ok = mallopt(M_MMAP_MAX, 0) == 1;               // large blocks from the heap, not mmap()
  ok = mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1 && ok;  // and kept there when freed
  ok = mallopt(M_ARENA_MAX, 1) == 1 && ok;             // one heap: what one thread frees another reuses
  return ok;
#else
  return false;
#endif
}

}  // namespace coughkit::training
