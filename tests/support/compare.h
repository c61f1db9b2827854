#pragma once
// Array comparison for parity tests: reports the largest difference and where it is, so a
// failure says by how much and at which index, not just "not equal".
#include <cmath>
#include <cstddef>
#include <span>
#include <string>

#include <gtest/gtest.h>

namespace coughkit::testing {

struct Difference {
  double max_abs = 0.0;
  std::size_t at = 0;
  double actual = 0.0, expected = 0.0;
};

inline Difference max_abs_difference(std::span<const float> actual, std::span<const float> expected) {
  Difference d;
  for (std::size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
    const double diff = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    if (!(diff <= d.max_abs)) {  // also catches NaN
      d = {std::isnan(diff) ? INFINITY : diff, i, actual[i], expected[i]};
    }
  }
  return d;
}

// EXPECT that sizes match and max |a - e| <= tolerance; returns the difference for reporting.
inline Difference expect_close(std::span<const float> actual, std::span<const float> expected, double tolerance,
                               const std::string& what) {
  EXPECT_EQ(actual.size(), expected.size()) << what << ": size differs";
  const Difference d = max_abs_difference(actual, expected);
  EXPECT_LE(d.max_abs, tolerance) << what << ": max |diff| " << d.max_abs << " at index " << d.at << " (actual "
                                  << d.actual << ", expected " << d.expected << ")";
  return d;
}

}  // namespace coughkit::testing
