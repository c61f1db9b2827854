#pragma once
// SHA-256 of a file, for the `source_sha256` an exported model carries: a model can be
// traced to the exact checkpoint it came from. OpenSSL's libcrypto does the hashing.
#include <memory>
#include <string>
#include <string_view>

namespace coughkit::checkpoint {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex_digest();  // finishes the hash

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

// Lower-case hex digest of a file's contents; throws InputError when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace coughkit::checkpoint
