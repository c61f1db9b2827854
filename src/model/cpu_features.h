#pragma once
// Which kernels may run on this CPU, decided in one place so tests can force every path:
//  - coughkit's own AVX2 kernels (Winograd F(2x2,3x3), nChw8c max pool) run when the CPU has
//    AVX2, unless COUGHKIT_OWN_KERNELS=0 (then oneDNN's kernels run everywhere);
//  - oneDNN picks its kernels for the best ISA it finds, capped by DNNL_MAX_CPU_ISA (oneDNN's
//    own variable: SSE41, AVX2, AVX512_CORE, ...), read when the first kernel is made.
// The op and conformance suites run once per combination (tests/model/CMakeLists.txt).
#include <string>

namespace coughkit::model {

bool cpu_has_avx2();
// cpu_has_avx2() and not disabled by COUGHKIT_OWN_KERNELS=0 (read once per process).
bool own_avx2_kernels_enabled();
// The ISA oneDNN dispatches to, after DNNL_MAX_CPU_ISA: "avx512_core_amx", "avx512_core_bf16",
// "avx512_core_vnni", "avx512_core", "avx2_vnni", "avx2", "avx", "sse41" or "baseline".
std::string onednn_isa();

}  // namespace coughkit::model
