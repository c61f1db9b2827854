#include "model/maxpool_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <limits>

namespace coughkit::model {

void maxpool_run_avx2(const MaxPoolProblem& p, const float* x, float* dst, int threads) {
  const std::int64_t cbn = p.c / 8, rows = p.n * cbn * p.oh;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t plane = r / p.oh, oy = r % p.oh;  // plane = image * cbn + channel block
    const float* src = x + plane * p.h * p.w * 8;
    float* out = dst + (plane * p.oh + oy) * p.ow * 8;
    const std::int64_t y0 = oy * p.stride_h - p.pad_t;
    const std::int64_t ya = std::max<std::int64_t>(y0, 0), yb = std::min(y0 + p.kh, p.h);
    for (std::int64_t ox = 0; ox < p.ow; ++ox) {
      const std::int64_t x0 = ox * p.stride_w - p.pad_l;
      const std::int64_t xa = std::max<std::int64_t>(x0, 0), xb = std::min(x0 + p.kw, p.w);
      __m256 m = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
      for (std::int64_t y = ya; y < yb; ++y)
        for (std::int64_t xx = xa; xx < xb; ++xx) m = _mm256_max_ps(m, _mm256_loadu_ps(src + (y * p.w + xx) * 8));
      _mm256_storeu_ps(out + ox * 8, m);
    }
  }
}

}  // namespace coughkit::model
