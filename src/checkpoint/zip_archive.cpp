#include "checkpoint/zip_archive.h"

#include <filesystem>

#include <zip.h>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::checkpoint {

struct ZipArchive::Impl {
  zip_t* zip = nullptr;
  ~Impl() {
    if (zip) zip_discard(zip);  // read-only: discard, never write back
  }
};

ZipArchive::ZipArchive(const std::string& path) : impl_(std::make_unique<Impl>()), path_(path) {
  int err = 0;
  // ZIP_CHECKCONS: cross-check the central directory against the local headers, so a
  // truncated or spliced file is refused here rather than half-read later.
  impl_->zip = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!impl_->zip) {
    zip_error_t error;
    zip_error_init_with_code(&error, err);
    std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw InputError(fmt::format("{}: not a readable zip archive ({}); truncated or corrupt checkpoint?", path, why));
  }
  const zip_int64_t n = zip_get_num_entries(impl_->zip, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(impl_->zip, static_cast<zip_uint64_t>(i), 0);
    if (name) names_.emplace_back(name);
  }
}

ZipArchive::~ZipArchive() = default;

bool ZipArchive::contains(const std::string& name) const { return zip_name_locate(impl_->zip, name.c_str(), 0) >= 0; }

std::uint64_t ZipArchive::size(const std::string& name) const {
  zip_stat_t st;
  if (zip_stat(impl_->zip, name.c_str(), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    throw InputError(fmt::format("{}: the archive has no entry '{}'", path_, name));
  return st.size;
}

std::string ZipArchive::read(const std::string& name) const {
  const std::uint64_t n = size(name);
  // The entry's declared size is checked against what its compressed bytes can hold before
  // anything is allocated for it: torch.save stores entries uncompressed (size equals the
  // stored size), and deflate expands at most 1032:1. A damaged or hostile header claiming
  // gigabytes is refused here, not after an allocation of gigabytes.
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(impl_->zip, name.c_str(), 0, &st) == 0 && (st.valid & ZIP_STAT_COMP_SIZE)) {
    std::error_code ec;
    const auto archive_size = std::filesystem::file_size(path_, ec);
    const bool stored = (st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE;
    const std::uint64_t most = stored ? st.comp_size : st.comp_size * 1032 + 1024;
    if ((!ec && st.comp_size > archive_size) || n > most)
      throw InputError(fmt::format("{}: entry '{}' claims {} bytes from {} stored bytes; corrupt checkpoint", path_,
                                   name, n, st.comp_size));
  }
  zip_file_t* f = zip_fopen(impl_->zip, name.c_str(), 0);
  if (!f) throw InputError(fmt::format("{}: cannot open entry '{}': {}", path_, name, zip_strerror(impl_->zip)));
  std::string data(n, '\0');
  std::uint64_t done = 0;
  while (done < n) {
    const zip_int64_t got = zip_fread(f, data.data() + done, n - done);
    if (got <= 0) {
      std::string why = got < 0 ? zip_file_strerror(f) : "unexpected end of data";
      zip_fclose(f);
      throw InputError(
          fmt::format("{}: cannot read entry '{}' ({}); truncated or corrupt checkpoint?", path_, name, why));
    }
    done += static_cast<std::uint64_t>(got);
  }
  // libzip verifies the CRC when the whole entry has been read; a mismatch shows up here.
  char extra;
  const zip_int64_t tail = zip_fread(f, &extra, 1);
  std::string why = tail < 0 ? zip_file_strerror(f) : "";
  zip_fclose(f);
  if (tail != 0)
    throw InputError(
        fmt::format("{}: entry '{}' is corrupt ({})", path_, name, tail < 0 ? why : "longer than its size"));
  return data;
}

}  // namespace coughkit::checkpoint
