#include "io/npy.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "common/error.h"
#include "common/half.h"
#include "io/atomic_file.h"

namespace coughkit::io {
namespace {

static_assert(std::endian::native == std::endian::little, "npy I/O assumes little-endian");

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMaxHeader = std::size_t{1} << 20;
constexpr std::size_t kMaxCount = std::size_t{1} << 32;

std::string shape_tuple(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i)
    s += fmt::format("{}{}", shape[i], i + 1 < shape.size() || shape.size() == 1 ? "," : "");
  return s + ")";
}

// Elements of a shape; a header whose shape overflows 64 bits (of bytes, at 8 per element)
// is malformed, not a wrap-around to a small count.
std::size_t shape_count(const std::vector<std::size_t>& shape) {
  std::size_t count = 1;
  for (auto d : shape) {
    if (d != 0 && count > std::numeric_limits<std::size_t>::max() / 8 / d)
      throw InputError("npy shape " + shape_tuple(shape) + " is too large");
    count *= d;
  }
  return count;
}

// The size of the file's data, for checking a header's shape before allocating for it.
std::size_t data_bytes_in_file(const std::filesystem::path& path, const NpyHeader& h) {
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(path, ec);
  if (ec) throw InputError(fmt::format("{}: cannot stat: {}", path.string(), ec.message()));
  return file_size > h.data_offset ? file_size - h.data_offset : 0;
}

// Magic, version 1.0, header length, header: the dict (plus an optional comment), padded
// with spaces so that the data starts at a multiple of 64, ending in '\n'.
std::string make_preamble(const std::string& descr, const std::vector<std::size_t>& shape, const std::string& comment) {
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape_tuple(shape));
  if (!comment.empty()) header += " # " + comment;
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  if (header.size() > std::numeric_limits<std::uint16_t>::max()) throw std::invalid_argument("npy header too long");
  std::string out(kMagic, 6);
  out.push_back(1);
  out.push_back(0);
  const auto len = static_cast<std::uint16_t>(header.size());
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>(len >> 8));
  return out + header;
}

template <class T>
std::string_view as_bytes_view(std::span<const T> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size_bytes()};
}

std::size_t skip_spaces(const std::string& s, std::size_t pos) {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
  return pos;
}

// Position just after "'key':" (either quote style), or npos.
std::size_t find_value(const std::string& dict, const std::string& key) {
  for (const char q : {'\'', '"'}) {
    const std::string quoted = std::string(1, q) + key + q;
    auto pos = dict.find(quoted);
    if (pos == std::string::npos) continue;
    pos = skip_spaces(dict, pos + quoted.size());
    if (pos < dict.size() && dict[pos] == ':') return skip_spaces(dict, pos + 1);
  }
  return std::string::npos;
}

NpyHeader parse_header(const std::filesystem::path& path, std::istream& in) {
  const std::string name = path.string();
  char magic[6];
  unsigned char version[2];
  if (!in.read(magic, 6) || std::memcmp(magic, kMagic, 6) != 0 || !in.read(reinterpret_cast<char*>(version), 2))
    throw InputError(fmt::format("{}: not a .npy file", name));
  std::uint32_t header_len = 0;
  std::size_t offset = 0;
  if (version[0] == 1) {
    unsigned char l[2];
    in.read(reinterpret_cast<char*>(l), 2);
    header_len = l[0] | (std::uint32_t{l[1]} << 8);
    offset = 10;
  } else if (version[0] == 2 || version[0] == 3) {
    unsigned char l[4];
    in.read(reinterpret_cast<char*>(l), 4);
    header_len = l[0] | (std::uint32_t{l[1]} << 8) | (std::uint32_t{l[2]} << 16) | (std::uint32_t{l[3]} << 24);
    offset = 12;
  } else {
    throw InputError(fmt::format("{}: unsupported .npy version {}.{}", name, version[0], version[1]));
  }
  if (!in || header_len > kMaxHeader) throw InputError(fmt::format("{}: malformed .npy header", name));
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  if (!in) throw InputError(fmt::format("{}: truncated .npy header", name));

  NpyHeader h;
  h.data_offset = offset + header_len;
  const auto open_brace = header.find('{'), close_brace = header.find('}');
  if (open_brace == std::string::npos || close_brace == std::string::npos || close_brace < open_brace)
    throw InputError(fmt::format("{}: malformed .npy header", name));
  const std::string dict = header.substr(open_brace, close_brace - open_brace + 1);
  // Anything after the dict is padding, or a Python comment (write_npy_half).
  std::string rest = header.substr(close_brace + 1);
  if (const auto hash = rest.find('#'); hash != std::string::npos) {
    auto c = rest.substr(hash + 1);
    const auto first = c.find_first_not_of(" \t"), last = c.find_last_not_of(" \t\r\n");
    h.comment = first == std::string::npos ? "" : c.substr(first, last - first + 1);
  }

  auto pos = find_value(dict, "descr");
  if (pos == std::string::npos || pos >= dict.size() || (dict[pos] != '\'' && dict[pos] != '"'))
    throw InputError(fmt::format("{}: no dtype in .npy header", name));
  const auto end = dict.find(dict[pos], pos + 1);
  if (end == std::string::npos) throw InputError(fmt::format("{}: malformed dtype in .npy header", name));
  h.descr = dict.substr(pos + 1, end - pos - 1);

  pos = find_value(dict, "fortran_order");
  if (pos == std::string::npos) throw InputError(fmt::format("{}: no fortran_order in .npy header", name));
  h.fortran_order = dict.compare(pos, 4, "True") == 0;

  pos = find_value(dict, "shape");
  if (pos == std::string::npos || pos >= dict.size() || dict[pos] != '(')
    throw InputError(fmt::format("{}: no shape in .npy header", name));
  const auto close = dict.find(')', pos);
  if (close == std::string::npos) throw InputError(fmt::format("{}: malformed shape in .npy header", name));
  std::size_t count = 1;
  for (std::size_t i = pos + 1; i < close;) {
    i = skip_spaces(dict, i);
    if (i < close && dict[i] == ',') {
      ++i;
      continue;
    }
    if (i >= close) break;
    if (dict[i] < '0' || dict[i] > '9') throw InputError(fmt::format("{}: malformed shape in .npy header", name));
    std::size_t d = 0;
    while (i < close && dict[i] >= '0' && dict[i] <= '9') {
      d = d * 10 + static_cast<std::size_t>(dict[i++] - '0');
      if (d > kMaxCount) throw InputError(fmt::format("{}: array too large", name));
    }
    h.shape.push_back(d);
    if (d != 0 && count > kMaxCount / d) throw InputError(fmt::format("{}: array too large", name));
    count *= d;
  }
  return h;
}

}  // namespace

std::size_t NpyHeader::count() const { return shape_count(shape); }

void write_npy(const std::filesystem::path& path, std::span<const float> data, const std::vector<std::size_t>& shape) {
  const std::size_t count = shape_count(shape);
  if (count != data.size())
    throw std::invalid_argument(
        fmt::format("write_npy: shape {} holds {} values, got {}", shape_tuple(shape), count, data.size()));
  write_file_atomically(path, {make_preamble("<f4", shape, ""), as_bytes_view(data)});
}

void write_npy_half(const std::filesystem::path& path, std::span<const std::uint16_t> data,
                    const std::vector<std::size_t>& shape, const std::string& comment) {
  const std::size_t count = shape_count(shape);
  if (count != data.size())
    throw std::invalid_argument(
        fmt::format("write_npy_half: shape {} holds {} values, got {}", shape_tuple(shape), count, data.size()));
  for (const char c : comment)
    if (c < 0x20 || c > 0x7e)
      throw std::invalid_argument("write_npy_half: the comment must be one line of printable ASCII");
  write_file_atomically(path, {make_preamble("<f2", shape, comment), as_bytes_view(data)});
}

NpyHeader read_npy_header(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open", path.string()));
  return parse_header(path, in);
}

NpyArray read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open", path.string()));
  const NpyHeader h = parse_header(path, in);
  const bool is_f4 = h.descr == "<f4", is_f2 = h.descr == "<f2";
  if (!is_f4 && !is_f2)
    throw InputError(fmt::format("{}: only float32/float16 arrays are supported (dtype '{}')", path.string(), h.descr));
  if (h.fortran_order) throw InputError(fmt::format("{}: Fortran-order arrays are not supported", path.string()));
  NpyArray array;
  array.shape = h.shape;
  const std::size_t count = h.count();
  if (data_bytes_in_file(path, h) < count * (is_f4 ? 4 : 2))
    throw InputError(fmt::format("{}: truncated data: shape {} needs {} bytes of data, the file has {}", path.string(),
                                 shape_tuple(h.shape), count * (is_f4 ? 4 : 2), data_bytes_in_file(path, h)));
  array.data.resize(count);
  if (is_f4) {
    in.read(reinterpret_cast<char*>(array.data.data()), static_cast<std::streamsize>(count * 4));
  } else {
    std::vector<std::uint16_t> halves(count);
    in.read(reinterpret_cast<char*>(halves.data()), static_cast<std::streamsize>(count * 2));
    halves_to_floats(halves, array.data);
  }
  if (!in) throw InputError(fmt::format("{}: truncated data", path.string()));
  return array;
}

NpyHalfArray read_npy_half(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open", path.string()));
  const NpyHeader h = parse_header(path, in);
  if (h.descr != "<f2")
    throw InputError(fmt::format("{}: expected a float16 ('<f2') array, found dtype '{}'", path.string(), h.descr));
  if (h.fortran_order) throw InputError(fmt::format("{}: Fortran-order arrays are not supported", path.string()));
  const std::size_t count = h.count();
  const std::size_t file_size = h.data_offset + data_bytes_in_file(path, h);
  const std::size_t expected = h.data_offset + count * 2;
  if (file_size != expected)
    throw InputError(fmt::format("{}: {} data: {} bytes, shape {} needs {}", path.string(),
                                 file_size < expected ? "truncated" : "trailing bytes after the", file_size,
                                 shape_tuple(h.shape), expected));
  NpyHalfArray array;
  array.shape = h.shape;
  array.comment = h.comment;
  array.data.resize(count);
  in.read(reinterpret_cast<char*>(array.data.data()), static_cast<std::streamsize>(count * 2));
  if (!in) throw InputError(fmt::format("{}: truncated data", path.string()));
  return array;
}

}  // namespace coughkit::io
