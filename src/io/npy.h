#pragma once
// NumPy .npy files (format 1.0, little-endian, C order) — the exchange format of the
// reference arrays (shared/golden/arrays) and of `coughkit features --npy-dir`.
#include <cstddef>
#include <filesystem>
#include <span>
#include <vector>

namespace coughkit::io {

struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<float> data;  // float32 only: every array the pipeline exchanges is float32
  std::size_t size() const { return data.size(); }
};

// Writes float32 data with the given shape. The file is written to a temporary name and
// renamed, so a reader never sees a half-written array. Throws std::runtime_error on I/O.
void write_npy(const std::filesystem::path& path, std::span<const float> data,
               const std::vector<std::size_t>& shape);

// Reads a float32 ('<f4') or float16 ('<f2', widened) array; throws coughkit::InputError
// for anything else or a malformed file.
NpyArray read_npy(const std::filesystem::path& path);

}  // namespace coughkit::io
