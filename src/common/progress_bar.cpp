#include "common/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace coughkit {
namespace {

constexpr std::size_t kWidth = 30;
constexpr std::size_t kMaxNote = 40;
// ~10 redraws a second: smooth enough to watch, cheap enough for loops of small items.
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
// Erases the terminal line and returns to its start.
constexpr const char* kClearLine = "\r\033[2K";

// Whole seconds as h:mm:ss, or m:ss below an hour when `short_form`.
std::string clock_time(double seconds, bool short_form) {
  const long long s = std::max(0LL, std::llround(seconds));
  if (short_form && s < 3600) return fmt::format("{}:{:02}", s / 60, s % 60);
  return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

// Counts as integers; a fractional amount (advance(0.5)) with one decimal.
std::string count(double v) { return v == std::floor(v) ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v); }

}  // namespace

ProgressBar::ProgressBar(std::string label, double total, ProgressUnits units, bool enabled)
    : label_(std::move(label)),
      total_(total),
      units_(units),
      enabled_(enabled && isatty(STDERR_FILENO)),
      start_(Clock::now()) {
  draw(true);
}

ProgressBar::~ProgressBar() { clear(); }

void ProgressBar::advance(double amount, const std::string& note) { set(done_ + amount, note); }

void ProgressBar::set(double done, const std::string& note) {
  done_ = done;
  note_ = note;
  draw(false);
}

void ProgressBar::clear() {
  if (enabled_ && shown_) std::fputs(kClearLine, stderr);
  shown_ = false;
}

void ProgressBar::draw(bool force) {
  if (!enabled_) return;
  const auto now = Clock::now();
  // The last state is always drawn, so a finished bar never shows a stale count.
  if (!force && shown_ && now - last_draw_ < kRedrawInterval && done_ < total_) return;
  fmt::print(stderr, "{}{}", kClearLine, line(done_, std::chrono::duration<double>(now - start_).count(), note_));
  std::fflush(stderr);
  shown_ = true;
  last_draw_ = now;
}

std::string ProgressBar::line(double done, double elapsed_s, const std::string& note) const {
  const bool audio = units_ == ProgressUnits::kAudioSeconds;
  const bool has_total = total_ > 0;
  // 100 * done / total rather than (done / total) * 100: exact for whole percentages (29/100 is 29%, not 28%).
  const double percent = has_total ? std::clamp(std::floor(100.0 * done / total_), 0.0, 100.0) : 0.0;
  const auto filled =
      has_total
          ? static_cast<std::size_t>(std::clamp(std::floor(kWidth * done / total_), 0.0, static_cast<double>(kWidth)))
          : 0;
  std::string s = fmt::format("{} [{}{}] ", label_, std::string(filled, '#'), std::string(kWidth - filled, '-'));
  s += audio ? fmt::format("{}/{} of audio", clock_time(done, false), clock_time(total_, false))
             : fmt::format("{}/{}", count(done), count(total_));
  if (has_total) s += fmt::format(" ({:.0f}%)", percent);
  if (done > 0 && elapsed_s > 0) {
    const double rate = done / elapsed_s;  // items a second, or seconds of audio a second
    s += audio ? fmt::format(" {:.1f}x realtime", rate) : fmt::format(" {:.1f}/s", rate);
    if (has_total) s += " ETA " + clock_time(std::max(0.0, total_ - done) / rate, !audio);
  }
  if (!note.empty()) s += " " + (note.size() > kMaxNote ? "..." + note.substr(note.size() - (kMaxNote - 3)) : note);
  return s;
}

}  // namespace coughkit
