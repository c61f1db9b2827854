#pragma once
// SHA-256 (FIPS 180-4) of a file, for the `source_sha256` an exported model carries: a
// model can be traced to the exact checkpoint it came from. Small enough not to need a
// crypto library.
#include <cstdint>
#include <string>
#include <string_view>

namespace coughkit::checkpoint {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  std::string hex_digest();  // finishes the hash

 private:
  void block(const std::uint8_t* p);
  std::uint32_t h_[8];
  std::uint8_t buf_[64];
  std::size_t buf_len_ = 0;
  std::uint64_t total_ = 0;
};

// Lower-case hex digest of a file's contents; throws InputError when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace coughkit::checkpoint
