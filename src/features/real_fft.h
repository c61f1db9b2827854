#pragma once
// Power spectrum of one real frame. FFTW (single precision) stays behind this pimpl so no
// public header depends on it.
//
// Thread safety: construct on any thread (plan creation is serialised internally, since
// FFTW's planner is not thread-safe); power_spectrum() is const and reentrant.
#include <memory>
#include <span>

namespace coughkit::features {

class RealFft {
 public:
  explicit RealFft(int n);
  ~RealFft();
  RealFft(RealFft&&) noexcept;
  RealFft& operator=(RealFft&&) noexcept;

  int size() const;
  int bins() const { return size() / 2 + 1; }

  // Per-thread buffers, allocated with the SIMD alignment FFTW planned for.
  class Workspace {
   public:
    explicit Workspace(int n);
    ~Workspace();
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;
    float* input() { return input_; }

   private:
    friend class RealFft;
    float* input_ = nullptr;
    float* spectrum_ = nullptr;  // interleaved complex, n/2 + 1 values
  };

  // out[k] = |X[k]|^2 for k in [0, n/2], X the DFT of workspace.input() (n values, the
  // caller writes the windowed frame there).
  void power_spectrum(Workspace& workspace, float* out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coughkit::features
