#include "monitoring/counts.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <regex>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::monitoring {
namespace {

constexpr double kDay = 86400.0;

// Days since 1970-01-01 of a civil date (proleptic Gregorian), via <chrono>.
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
  if (!ymd.ok()) return INT64_MIN;
  return std::chrono::sys_days{ymd}.time_since_epoch().count();
}

// Bins of `width` seconds aligned to the clock (when known) or to the recording's start.
std::vector<CountBin> bins(const std::vector<Cough>& coughs, double duration_s, const std::optional<WallClock>& start,
                           double width) {
  std::vector<CountBin> out;
  if (duration_s <= 0) return out;
  double first_end = width;
  if (start) {
    const double into =
        std::fmod(static_cast<double>(start->seconds % static_cast<std::int64_t>(width)) + start->fraction, width);
    first_end = width - into;
  }
  for (double a = 0, b = std::min(first_end, duration_s); a < duration_s; a = b, b = std::min(b + width, duration_s)) {
    CountBin bin{a, b, start ? start->format(a) : "", 0};
    out.push_back(bin);
    if (b >= duration_s) break;
  }
  for (const auto& c : coughs) {
    for (auto& bin : out)
      if (c.onset_s >= bin.start_s && (c.onset_s < bin.end_s || (bin.end_s >= duration_s && c.onset_s <= bin.end_s))) {
        ++bin.coughs;
        break;
      }
  }
  return out;
}

}  // namespace

WallClock WallClock::parse(const std::string& text, const std::string& what) {
  static const std::regex re(
      R"(^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$)");
  std::smatch m;
  auto bad = [&] {
    return ConfigError(
        fmt::format("{} must be a date and time such as 2026-12-01T22:30:00 (optionally with Z or "
                    "+01:00), got '{}'",
                    what, text));
  };
  if (!std::regex_match(text, m, re)) throw bad();
  const int hour = std::stoi(m[4]), minute = std::stoi(m[5]), second = m[6].matched ? std::stoi(m[6]) : 0;
  if (hour > 23 || minute > 59 || second > 60) throw bad();
  const std::int64_t days =
      days_from_civil(std::stoi(m[1]), static_cast<unsigned>(std::stoi(m[2])), static_cast<unsigned>(std::stoi(m[3])));
  if (days == INT64_MIN) throw bad();
  WallClock w;
  w.seconds = days * 86400 + hour * 3600 + minute * 60 + second;
  w.fraction = m[7].matched ? std::stod("0" + m[7].str()) : 0.0;
  if (m[8].matched) {
    const std::string z = m[8];
    if (z == "Z") {
      w.utc_offset_s = 0;
    } else {
      const std::string digits = std::regex_replace(z.substr(1), std::regex(":"), "");
      const int off = std::stoi(digits.substr(0, 2)) * 3600 + std::stoi(digits.substr(2, 2)) * 60;
      w.utc_offset_s = z[0] == '-' ? -off : off;
    }
  }
  return w;
}

std::string WallClock::format(double offset_s) const {
  const double t = static_cast<double>(seconds) + fraction + offset_s;
  const auto whole = static_cast<std::int64_t>(std::floor(t));
  const std::int64_t days = whole >= 0 ? whole / 86400 : (whole - 86399) / 86400;
  const std::int64_t sod = whole - days * 86400;
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  std::string out = fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", static_cast<int>(ymd.year()),
                                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), sod / 3600,
                                (sod / 60) % 60, sod % 60);
  if (utc_offset_s) {
    if (*utc_offset_s == 0) return out + "Z";
    const int a = std::abs(*utc_offset_s);
    out += fmt::format("{}{:02d}:{:02d}", *utc_offset_s < 0 ? '-' : '+', a / 3600, (a / 60) % 60);
  }
  return out;
}

double WallClock::time_of_day(double offset_s) const {
  const double t = static_cast<double>(seconds % 86400) + fraction + offset_s;
  return std::fmod(std::fmod(t, kDay) + kDay, kDay);
}

NightWindow NightWindow::parse(const std::string& text) {
  static const std::regex re(R"(^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$)");
  std::smatch m;
  if (std::regex_match(text, m, re)) {
    NightWindow n{std::stoi(m[1]) * 60 + std::stoi(m[2]), std::stoi(m[3]) * 60 + std::stoi(m[4])};
    if (std::stoi(m[1]) < 24 && std::stoi(m[2]) < 60 && std::stoi(m[3]) < 24 && std::stoi(m[4]) < 60 &&
        n.start_min != n.end_min)
      return n;
  }
  throw ConfigError(fmt::format("--night must be two clock times such as 22:00-07:00, got '{}'", text));
}

std::string NightWindow::ToString() const {
  return fmt::format("{:02d}:{:02d}-{:02d}:{:02d}", start_min / 60, start_min % 60, end_min / 60, end_min % 60);
}

bool NightWindow::contains(double seconds_of_day) const {
  const double m = seconds_of_day / 60.0;
  return start_min < end_min ? (m >= start_min && m < end_min) : (m >= start_min || m < end_min);
}

CoughCounts count_coughs(const std::vector<Cough>& coughs, double duration_s, const std::optional<WallClock>& start,
                         const NightWindow& night) {
  CoughCounts c;
  c.total = static_cast<int>(coughs.size());
  c.hours = duration_s / 3600.0;
  c.hourly = bins(coughs, duration_s, start, 3600.0);
  c.daily = bins(coughs, duration_s, start, kDay);
  if (start) {
    PeriodCount awake, asleep;
    // Time asleep and awake, minute by minute boundaries of the night window: step through
    // the recording in pieces that never cross a night boundary.
    double t = 0;
    while (t < duration_s) {
      const double tod = start->time_of_day(t);
      const double to_boundary = [&] {
        double best = kDay;
        for (int b : {night.start_min, night.end_min}) {
          double d = b * 60.0 - tod;
          if (d <= 1e-9) d += kDay;
          best = std::min(best, d);
        }
        return best;
      }();
      const double piece = std::min(to_boundary, duration_s - t);
      (night.contains(tod) ? asleep : awake).hours += piece / 3600.0;
      t += piece;
    }
    for (const auto& cough : coughs) (night.contains(start->time_of_day(cough.onset_s)) ? asleep : awake).coughs++;
    c.awake = awake;
    c.asleep = asleep;
  }
  return c;
}

}  // namespace coughkit::monitoring
