// Compiled with -ffast-math (see CMakeLists.txt) so GCC maps the loop onto libmvec's vector
// log10f; keep this file to loops whose results do not depend on evaluation order.
#include "features/vector_math.h"

#include <math.h>

namespace coughkit::features {

void power_to_db(const float* in, float* out, std::size_t n, float amin) {
  for (std::size_t i = 0; i < n; ++i) {
    const float p = in[i] > amin ? in[i] : amin;
    out[i] = 10.0f * log10f(p);  // C log10f: it carries glibc's simd declaration, std::log10 does not
  }
}

}  // namespace coughkit::features
