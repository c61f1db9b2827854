#include "io/npy.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

std::string shape_tuple(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += fmt::format("{}{}", shape[i], i + 1 < shape.size() || shape.size() == 1 ? "," : "");
  return s + ")";
}

// IEEE half -> float, for the float16 caches the reference training pipeline writes.
float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) { mant <<= 1; --exp; }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

}  // namespace

void write_npy(const std::filesystem::path& path, std::span<const float> data,
               const std::vector<std::size_t>& shape) {
  static_assert(std::endian::native == std::endian::little, "npy writer assumes little-endian");
  std::size_t count = 1;
  for (auto d : shape) count *= d;
  if (count != data.size())
    throw std::invalid_argument(fmt::format("write_npy: shape {} holds {} values, got {}", shape_tuple(shape), count, data.size()));
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}", shape_tuple(shape));
  // Pad so that magic(6)+version(2)+len(2)+header is a multiple of 64, ending in '\n'.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');

  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", tmp.string()));
    out.write(kMagic, 6);
    const char version[2] = {1, 0};
    out.write(version, 2);
    const std::uint16_t len = static_cast<std::uint16_t>(header.size());
    out.write(reinterpret_cast<const char*>(&len), 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size_bytes()));
    if (!out.flush()) throw std::runtime_error(fmt::format("cannot write {}", tmp.string()));
  }
  std::filesystem::rename(tmp, path);
}

NpyArray read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open", path.string()));
  char magic[6];
  unsigned char version[2];
  if (!in.read(magic, 6) || std::memcmp(magic, kMagic, 6) != 0 || !in.read(reinterpret_cast<char*>(version), 2))
    throw InputError(fmt::format("{}: not a .npy file", path.string()));
  std::uint32_t header_len = 0;
  if (version[0] == 1) {
    std::uint16_t l;
    in.read(reinterpret_cast<char*>(&l), 2);
    header_len = l;
  } else {
    in.read(reinterpret_cast<char*>(&header_len), 4);
  }
  if (!in || header_len > (1u << 20)) throw InputError(fmt::format("{}: malformed .npy header", path.string()));
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  if (!in) throw InputError(fmt::format("{}: truncated .npy header", path.string()));

  const bool is_f4 = header.find("'<f4'") != std::string::npos;
  const bool is_f2 = header.find("'<f2'") != std::string::npos;
  if (!is_f4 && !is_f2) throw InputError(fmt::format("{}: only float32/float16 arrays are supported ({})", path.string(), header));
  if (header.find("'fortran_order': False") == std::string::npos)
    throw InputError(fmt::format("{}: Fortran-order arrays are not supported", path.string()));
  const auto open = header.find('('), close = header.find(')');
  if (open == std::string::npos || close == std::string::npos || close < open)
    throw InputError(fmt::format("{}: no shape in .npy header", path.string()));

  NpyArray array;
  std::size_t count = 1;
  std::string dims = header.substr(open + 1, close - open - 1);
  std::size_t pos = 0;
  while (pos < dims.size()) {
    while (pos < dims.size() && (dims[pos] == ' ' || dims[pos] == ',')) ++pos;
    if (pos >= dims.size()) break;
    std::size_t used = 0;
    const unsigned long long d = std::stoull(dims.substr(pos), &used);
    array.shape.push_back(d);
    count *= d;
    pos += used;
  }
  if (count > (std::size_t{1} << 32)) throw InputError(fmt::format("{}: array too large", path.string()));
  array.data.resize(count);
  if (is_f4) {
    in.read(reinterpret_cast<char*>(array.data.data()), static_cast<std::streamsize>(count * 4));
  } else {
    std::vector<std::uint16_t> halves(count);
    in.read(reinterpret_cast<char*>(halves.data()), static_cast<std::streamsize>(count * 2));
    for (std::size_t i = 0; i < count; ++i) array.data[i] = half_to_float(halves[i]);
  }
  if (!in) throw InputError(fmt::format("{}: truncated data", path.string()));
  return array;
}

}  // namespace coughkit::io
