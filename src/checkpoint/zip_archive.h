#pragma once
// Read access to a zip archive (torch.save's format since PyTorch 1.6) through libzip,
// which stays behind this class. Entries are read whole; CRCs are checked by libzip.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace coughkit::checkpoint {

class ZipArchive {
 public:
  // Throws InputError naming `path` when it cannot be opened or is not a consistent zip
  // archive (truncated, corrupt central directory).
  explicit ZipArchive(const std::string& path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::vector<std::string>& names() const { return names_; }
  bool contains(const std::string& name) const;
  std::uint64_t size(const std::string& name) const;  // uncompressed size; throws when absent
  // The entry's bytes; throws InputError on a missing entry, a read error or a CRC mismatch.
  std::string read(const std::string& name) const;
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  std::vector<std::string> names_;
};

}  // namespace coughkit::checkpoint
