#include "checkpoint_fixtures.h"

#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>

#include <gtest/gtest.h>

#include "io/npy.h"
#include "support/test_data.h"

namespace coughkit::testing {

std::filesystem::path checkpoint_dir() { return COUGHKIT_CHECKPOINT_DIR; }

nlohmann::json checkpoint_manifest() { return load_manifest(checkpoint_dir()); }

std::string ModelInput::mask_digits() const {
  std::string s;
  for (auto m : mask) s += m ? '1' : '0';
  return s;
}

ModelInput load_checkpoint_case(const nlohmann::json& c) {
  ModelInput in;
  in.name = c.at("name").get<std::string>();
  in.batch = c.at("batch").get<int>();
  in.segments = c.at("segments").get<int>();
  auto x = io::read_npy(checkpoint_dir() / c.at("x").get<std::string>());
  auto mask = io::read_npy(checkpoint_dir() / c.at("mask").get<std::string>());
  const std::size_t n = static_cast<std::size_t>(in.batch) * in.segments;
  EXPECT_EQ(x.size(), n * model::kSegmentValues);
  EXPECT_EQ(mask.size(), n);
  in.x = std::move(x.data);
  for (float m : mask.data) in.mask.push_back(m != 0.0f);
  return in;
}

}  // namespace coughkit::testing
