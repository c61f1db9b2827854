#pragma once
// Source-level train/val/test splits. Every source clip (a unique hedgewars voice file, an
// espeak-ng utterance) belongs to exactly one split, so no recording is heard in two splits;
// the scenes of a split are mixed only from that split's sources.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace coughkit::dataset {

enum class Split : int { kTrain = 0, kVal = 1, kTest = 2 };
inline constexpr std::array<Split, 3> kSplits = {Split::kTrain, Split::kVal, Split::kTest};
const char* split_name(Split split);  // "train", "val", "test"

struct SplitCounts {
  std::size_t train = 0, val = 0, test = 0;
  std::size_t total() const { return train + val + test; }
  std::size_t of(Split s) const { return s == Split::kTrain ? train : s == Split::kVal ? val : test; }
};

// Cough sources are scarce: val and test get max(1, round(n / 5)) each, train the rest
// (5 -> 3/1/1). Throws InputError when n < 3 (each split needs a cough of its own).
SplitCounts cough_split_counts(std::size_t n);

// Plentiful sources: round(n * val_fraction) to val, round(n * test_fraction) to test, the
// rest to train; val and test get at least one each when n >= 3.
SplitCounts fraction_split_counts(std::size_t n, double val_fraction = 0.15, double test_fraction = 0.15);

// Assigns a split to each item, identified by a unique key (its content hash). Depends only on
// the set of keys, `seed` and `group` (not on the order of `keys`): the keys are sorted,
// shuffled with an Rng derived from (seed, group), and cut into train, val, test.
// Returns the split of keys[i] at index i. Throws ConfigError when counts.total() != keys.size()
// or a key repeats.
std::vector<Split> assign_splits(const std::vector<std::string>& keys, const SplitCounts& counts, std::uint64_t seed,
                                 std::string_view group);

}  // namespace coughkit::dataset
