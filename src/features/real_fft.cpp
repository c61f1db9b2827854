#include "features/real_fft.h"

#include <cstring>
#include <mutex>
#include <stdexcept>

#include <fftw3.h>
#include <fmt/format.h>

namespace coughkit::features {
namespace {
std::mutex& planner_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

struct RealFft::Impl {
  int n = 0;
  fftwf_plan plan = nullptr;
};

RealFft::RealFft(int n) : impl_(std::make_unique<Impl>()) {
  if (n < 2 || n % 2 != 0) throw std::invalid_argument(fmt::format("RealFft size must be even and >= 2, got {}", n));
  impl_->n = n;
  // Plan on scratch buffers with the alignment every later call will use (fftwf_malloc),
  // so fftwf_execute_dft_r2c may run on any such buffers. FFTW_ESTIMATE keeps the plan —
  // and so the output bits — the same on every run; FFTW_MEASURE may pick different
  // algorithms from run to run.
  std::lock_guard lock(planner_mutex());
  float* in = fftwf_alloc_real(n);
  fftwf_complex* out = fftwf_alloc_complex(n / 2 + 1);
  impl_->plan = fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
  fftwf_free(in);
  fftwf_free(out);
  if (!impl_->plan) throw std::runtime_error(fmt::format("FFTW could not plan a real FFT of size {}", n));
}

RealFft::~RealFft() {
  if (impl_ && impl_->plan) {
    std::lock_guard lock(planner_mutex());
    fftwf_destroy_plan(impl_->plan);
  }
}

RealFft::RealFft(RealFft&&) noexcept = default;
RealFft& RealFft::operator=(RealFft&&) noexcept = default;

int RealFft::size() const { return impl_->n; }

RealFft::Workspace::Workspace(int n)
    : input_(fftwf_alloc_real(n)), spectrum_(reinterpret_cast<float*>(fftwf_alloc_complex(n / 2 + 1))) {
  if (!input_ || !spectrum_) throw std::bad_alloc();
}

RealFft::Workspace::~Workspace() {
  fftwf_free(input_);
  fftwf_free(spectrum_);
}

void RealFft::power_spectrum(Workspace& workspace, float* out) const {
  const int n = impl_->n;
  const float* spec = workspace.spectrum_;
  fftwf_execute_dft_r2c(impl_->plan, workspace.input_, reinterpret_cast<fftwf_complex*>(workspace.spectrum_));
  for (int k = 0; k <= n / 2; ++k) out[k] = spec[2 * k] * spec[2 * k] + spec[2 * k + 1] * spec[2 * k + 1];
}

}  // namespace coughkit::features
