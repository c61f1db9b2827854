#include "io/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

namespace coughkit::io {

void replace_file_atomically(const std::filesystem::path& path,
                             const std::function<void(const std::filesystem::path& tmp)>& write) {
  static std::atomic<unsigned long> counter{0};
  // Hidden (leading dot) so a listing or a glob such as *.wav never picks up a file still
  // being written; ".tmp-" is what cleanup code (dataset_builder.cpp) recognises.
  const std::filesystem::path tmp =
      path.parent_path() /
      fmt::format(".{}.tmp-{}-{}", path.filename().string(), static_cast<long>(::getpid()), counter.fetch_add(1));
  std::error_code ec;
  try {
    write(tmp);
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot write {}: {}", path.string(), ec.message()));
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

void write_file_atomically(const std::filesystem::path& path, std::initializer_list<std::string_view> pieces) {
  replace_file_atomically(path, [&](const std::filesystem::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    // errno is what the failed open/write left; ofstream itself only knows "failed".
    if (!out) throw std::runtime_error(fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
    for (const std::string_view piece : pieces) out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    out.close();
    if (!out)
      throw std::runtime_error(fmt::format("cannot write {} (disk full?): {}", path.string(), std::strerror(errno)));
  });
}

}  // namespace coughkit::io
