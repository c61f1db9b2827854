#include "monitoring/window_plan.h"

#include <cmath>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::monitoring {
namespace {

constexpr std::int64_t kMicros = 1'000'000;

bool whole_microseconds(double s) { return std::abs(s * kMicros - std::round(s * kMicros)) < 1e-3; }

// round(us * rate / 1e6), halves up, in integers.
std::int64_t frames_of(std::int64_t us, int rate) {
  const __int128 scaled = static_cast<__int128>(us) * rate;
  return static_cast<std::int64_t>((scaled * 2 + kMicros) / (2 * kMicros));
}

}  // namespace

void WindowOptions::Validate() const {
  if (!(window_s >= 2.0 && window_s <= 60.0))
    throw ConfigError(
        fmt::format("--window-seconds must be in [2, 60] (a window holds whole 2-s segments), got {}", window_s));
  if (!(hop_s > 0.0 && hop_s <= window_s))
    throw ConfigError(fmt::format("--hop-seconds must be in (0, window] = (0, {}], got {}", window_s, hop_s));
  if (!whole_microseconds(window_s) || !whole_microseconds(hop_s))
    throw ConfigError("--window-seconds and --hop-seconds must be whole microseconds");
}

std::string WindowOptions::ToString() const {
  return fmt::format("WindowOptions(window_s={}, hop_s={})", window_s, hop_s);
}

WindowPlan::WindowPlan(const WindowOptions& options, int sample_rate)
    : hop_us_(std::llround(options.hop_s * kMicros)), rate_(sample_rate) {
  options.Validate();
  if (sample_rate < 1) throw ConfigError(fmt::format("sample rate must be >= 1, got {}", sample_rate));
  length_ = frames_of(std::llround(options.window_s * kMicros), sample_rate);
}

std::int64_t WindowPlan::start(std::int64_t i) const { return frames_of(i * hop_us_, rate_); }

std::int64_t WindowPlan::count(std::int64_t frames) const {
  if (frames <= 0) return 0;
  if (frames < length_) return 1;
  // The largest i with start(i) + L <= frames; start is monotone, so step from an estimate.
  std::int64_t i = static_cast<std::int64_t>(static_cast<double>(frames - length_) * kMicros /
                                             (static_cast<double>(hop_us_) * rate_));
  while (i > 0 && start(i) + length_ > frames) --i;
  while (start(i + 1) + length_ <= frames) ++i;
  return i + 1;
}

}  // namespace coughkit::monitoring
