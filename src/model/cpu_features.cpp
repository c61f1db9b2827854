#include "model/cpu_features.h"

#include <cstdlib>
#include <cstring>

#include <oneapi/dnnl/dnnl.hpp>

namespace coughkit::model {

bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

bool own_avx2_kernels_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("COUGHKIT_OWN_KERNELS");
    return cpu_has_avx2() && !(env && std::strcmp(env, "0") == 0);
  }();
  return enabled;
}

std::string onednn_isa() {
  using isa = dnnl::cpu_isa;
  switch (dnnl::get_effective_cpu_isa()) {
    case isa::avx512_core_amx: return "avx512_core_amx";
    case isa::avx512_core_bf16: return "avx512_core_bf16";
    case isa::avx512_core_vnni: return "avx512_core_vnni";
    case isa::avx512_core: return "avx512_core";
    case isa::avx512_mic_4ops:
    case isa::avx512_mic: return "avx512_mic";
    case isa::avx2_vnni: return "avx2_vnni";
    case isa::avx2: return "avx2";
    case isa::avx: return "avx";
    case isa::sse41: return "sse41";
    default: return "baseline";
  }
}

}  // namespace coughkit::model
