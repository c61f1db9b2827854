#pragma once
// Triangular mel filter bank as torchaudio.functional.melscale_fbanks (torchaudio 0.13) with
// mel_scale="htk" and norm=None, built in float32 the way torch builds it (linspace,
// 700 * (10^(m/2595) - 1), slopes divided by band widths), stored sparsely: each filter is
// non-zero on a short run of FFT bins.
#include <span>
#include <string>
#include <vector>

namespace coughkit::features {

struct MelBanksOptions {
  int sample_rate = 16000;
  int n_fft = 1024;  // -> n_fft / 2 + 1 = 513 bins
  int n_mels = 160;
  float f_min = 50.0f;
  float f_max = 4000.0f;

  void Validate() const;
  std::string ToString() const;
};

class MelFilterBank {
 public:
  explicit MelFilterBank(const MelBanksOptions& options = {});

  int num_bins() const { return num_bins_; }
  int num_mels() const { return static_cast<int>(filters_.size()); }

  // mel[m] = sum_k power[k] * fb[k][m]; power holds num_bins() values, mel num_mels().
  void apply(const float* power, float* mel) const;

  // Dense weight fb[bin][mel] (for tests against torchaudio's matrix).
  float weight(int bin, int mel) const;

 private:
  struct Filter {
    int first_bin = 0;
    std::vector<float> weights;
  };
  int num_bins_ = 0;
  std::vector<Filter> filters_;
};

}  // namespace coughkit::features
