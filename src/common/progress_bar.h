#pragma once
// The one progress bar of the long-running commands: `coughkit detect`, `precompute`,
// `dataset build` and `train` count items, `monitor` seconds of audio. It is drawn on stderr
// only when stderr is a terminal, so scripts and logs get the log lines alone, and it is
// redrawn at most ~10 times a second, so a fast loop does not spend its time writing to the
// terminal.
//
//   ProgressBar bar("detect", files.size());
//   for (const auto& f : files) {
//     bar.clear();  // before a log line, so the two do not share a line
//     spdlog::info("{}", ...);
//     bar.advance(1, f);
//   }
//
// Not thread-safe: call it from one thread at a time.
#include <chrono>
#include <string>

namespace coughkit {

enum class ProgressUnits {
  kItems,         // counts (files, batches): "3/10 ... 1.2/s"
  kAudioSeconds,  // seconds of audio: "0:12:00/1:00:00 of audio ... 45.1x realtime"
};

class ProgressBar {
 public:
  // Drawn on stderr only when `enabled` and stderr is a terminal; redrawn at most ~10 times a second.
  ProgressBar(std::string label, double total, ProgressUnits units = ProgressUnits::kItems, bool enabled = true);
  ~ProgressBar();  // clears the line
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Adds `amount` to what is done (set: makes it `done`) and shows `note` after the numbers.
  void advance(double amount = 1, const std::string& note = "");
  void set(double done, const std::string& note = "");
  // Call before printing a log line so it does not collide with the bar; the next advance or
  // set draws the bar again at once.
  void clear();
  bool enabled() const { return enabled_; }

  // The text of the line for `done` after `elapsed_s` seconds, without terminal control codes:
  //   kItems:        "label [#####-----] 3/10 (30%) 1.2/s ETA 0:06 note"
  //   kAudioSeconds: "label [#####-----] 0:12:00/1:00:00 of audio (20%) 45.1x realtime ETA 0:01:04 note"
  // The bar is 30 characters wide. Without a total (total <= 0) there is no percentage and no
  // ETA; before anything is done or any time has passed there is no rate and no ETA. Times are
  // rounded to the second (item ETAs as m:ss below an hour, h:mm:ss from one). A note longer
  // than 40 characters keeps its last 37 after "..." (the end of a path says the most).
  std::string line(double done, double elapsed_s, const std::string& note = "") const;

 private:
  using Clock = std::chrono::steady_clock;
  void draw(bool force);

  std::string label_;
  double total_;
  ProgressUnits units_;
  bool enabled_;
  double done_ = 0;
  std::string note_;
  Clock::time_point start_, last_draw_;
  bool shown_ = false;  // the line is on the terminal now (false after clear())
};

}  // namespace coughkit
