#pragma once
// Many recordings over several machines or runs (`coughkit monitor --shard i/N --out DIR`):
// a deterministic share of the files per shard, and one report name per file, so a rerun
// finds what a killed run finished.
#include <cstdint>
#include <string>

namespace coughkit::monitoring {

// Shard i of N (1-based, "2/4") takes the files whose path hashes to i - 1 modulo N: every
// file belongs to exactly one shard whatever order the files are listed in.
struct Shard {
  int index = 1, count = 1;
  static Shard parse(const std::string& text);  // "i/N", 1 <= i <= N <= 100000; throws ConfigError
  bool takes(const std::string& path) const;
};

// 64-bit FNV-1a of the bytes (stable across runs and machines).
std::uint64_t fnv1a(const std::string& bytes);

// The base name of a file's outputs: its stem and 8 hex digits of its path's hash
// ("night1-3fa2c91b"), unique even when two inputs share a stem.
std::string report_name(const std::string& path);

}  // namespace coughkit::monitoring
