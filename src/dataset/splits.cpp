#include "dataset/splits.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "common/error.h"
#include "dataset/rng.h"

namespace coughkit::dataset {

const char* split_name(Split split) {
  switch (split) {
    case Split::kTrain: return "train";
    case Split::kVal: return "val";
    case Split::kTest: return "test";
  }
  return "?";
}

SplitCounts cough_split_counts(std::size_t n) {
  if (n < 3)
    throw InputError(fmt::format(
        "only {} unique cough source(s) found; at least 3 are needed so that train, val and test each get one", n));
  const std::size_t held = std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(n / 5.0)));
  return {n - 2 * held, held, held};
}

SplitCounts fraction_split_counts(std::size_t n, double val_fraction, double test_fraction) {
  if (!(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1))
    throw ConfigError(
        fmt::format("split fractions must be >= 0 and sum to < 1, got {} and {}", val_fraction, test_fraction));
  std::size_t val = static_cast<std::size_t>(std::llround(n * val_fraction));
  std::size_t test = static_cast<std::size_t>(std::llround(n * test_fraction));
  if (n >= 3) {
    val = std::max<std::size_t>(val, 1);
    test = std::max<std::size_t>(test, 1);
  }
  while (val + test > n) (test > val ? test : val)--;
  return {n - val - test, val, test};
}

std::vector<Split> assign_splits(const std::vector<std::string>& keys, const SplitCounts& counts, std::uint64_t seed,
                                 std::string_view group) {
  if (counts.total() != keys.size())
    throw ConfigError(fmt::format("split counts {}+{}+{} do not add up to the {} items of group '{}'", counts.train,
                                  counts.val, counts.test, keys.size(), group));
  std::vector<std::size_t> order(keys.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (keys[order[i]] == keys[order[i - 1]])
      throw ConfigError(fmt::format("duplicate key '{}' in split group '{}'", keys[order[i]], group));
  Rng rng = Rng::derive(seed, "split", hash64(group));
  rng.shuffle(order);
  std::vector<Split> out(keys.size(), Split::kTrain);
  for (std::size_t i = 0; i < order.size(); ++i)
    out[order[i]] = i < counts.train ? Split::kTrain : i < counts.train + counts.val ? Split::kVal : Split::kTest;
  return out;
}

}  // namespace coughkit::dataset
