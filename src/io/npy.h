#pragma once
// NumPy .npy files (format 1.0, little-endian, C order) — the exchange format of the
// reference arrays (shared/golden/arrays), of `coughkit features --npy-dir` and of the
// training feature cache (`coughkit precompute`, float16).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace coughkit::io {

struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<float> data;  // float32 only: every array the pipeline exchanges is float32
  std::size_t size() const { return data.size(); }
};

// Writes float32 data with the given shape. The file is written to a temporary name
// (unique per process and call) and renamed, so a reader never sees a half-written array
// and concurrent writers never share a temporary. Throws std::runtime_error on I/O.
void write_npy(const std::filesystem::path& path, std::span<const float> data, const std::vector<std::size_t>& shape);

// Reads a float32 ('<f4') or float16 ('<f2', widened) array; throws coughkit::InputError
// for anything else or a malformed file.
NpyArray read_npy(const std::filesystem::path& path);

// --- float16 ('<f2'), raw IEEE half bits -------------------------------------------------

struct NpyHalfArray {
  std::vector<std::size_t> shape;
  std::vector<std::uint16_t> data;  // IEEE binary16 bits, C order
  std::string comment;              // the header comment (see write_npy_half), "" if none
  std::size_t size() const { return data.size(); }
};

// Writes half data (already rounded, e.g. with coughkit::float_to_half) atomically, like
// write_npy. A non-empty `comment` (one line of printable ASCII) is stored in the header
// after the dict as a Python comment, "{...} # comment": np.load accepts it (the header is
// read with ast.literal_eval) while an extra dict key would be refused. Throws
// std::invalid_argument for a shape/size mismatch or a bad comment, std::runtime_error on I/O.
void write_npy_half(const std::filesystem::path& path, std::span<const std::uint16_t> data,
                    const std::vector<std::size_t>& shape, const std::string& comment = {});

// Reads a '<f2' array as raw bits. Throws coughkit::InputError naming the file for another
// dtype, Fortran order, a malformed header, or a data size that is not exactly the shape's
// (truncated or trailing bytes).
NpyHalfArray read_npy_half(const std::filesystem::path& path);

// The header of a .npy file: dtype descr (e.g. "<f2"), shape, comment, and where the data
// starts. Throws coughkit::InputError for a file that is not a well-formed .npy.
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::size_t> shape;
  std::string comment;
  std::size_t data_offset = 0;
  std::size_t count() const;
};
NpyHeader read_npy_header(const std::filesystem::path& path);

}  // namespace coughkit::io
