#include "cli/progress_bar.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace coughkit::cli {

ProgressBar::ProgressBar(std::string label, std::size_t total)
    : label_(std::move(label)), total_(total), enabled_(isatty(STDERR_FILENO) && total > 1),
      start_(std::chrono::steady_clock::now()) {
  if (enabled_) draw();
}

ProgressBar::~ProgressBar() { clear(); }

void ProgressBar::advance(const std::string& item) {
  ++done_;
  item_ = item;
  if (enabled_) draw();
}

void ProgressBar::clear() {
  if (enabled_) std::fputs("\r\033[2K", stderr);
}

void ProgressBar::draw() {
  constexpr int kWidth = 30;
  const int filled = total_ ? static_cast<int>(kWidth * done_ / total_) : 0;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string name = item_.size() > 40 ? "..." + item_.substr(item_.size() - 37) : item_;
  fmt::print(stderr, "\r\033[2K{} [{}{}] {}/{} {:.1f}s {}", label_, std::string(filled, '#'),
             std::string(kWidth - filled, '.'), done_, total_, elapsed, name);
  std::fflush(stderr);
}

}  // namespace coughkit::cli
