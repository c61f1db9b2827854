#pragma once
// The C allocator set up for training (see allocator_tuning.cpp for the measurements).

namespace coughkit::training {

// Keeps the large tensors of a training step in the heap instead of fresh mmap()s: with
// glibc's defaults every activation above 32 MB is mapped and unmapped on each step and
// its pages faulted in again (half of a step's time in the kernel). Process-wide; call
// once, before the training threads start. Costs peak memory (freed blocks are kept for
// reuse). A no-op where the C library is not glibc. Returns whether it applied.
bool keep_large_allocations_in_heap();

}  // namespace coughkit::training
