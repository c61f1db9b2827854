#pragma once
// Replacing a file so that no reader, and no crash mid-write, ever sees it half written:
// the bytes go to a temporary beside the target (same directory, so the rename stays on
// one file system), which is renamed over the target once complete. The temporary,
// ".<name>.tmp-<pid>-<n>", is unique per process and call, so concurrent writers never
// share one.
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace coughkit::io {

// Writes the pieces, in order, as the new content of `path`. Throws std::runtime_error
// naming the file and the reason; the temporary is removed and the old file left as it was.
void write_file_atomically(const std::filesystem::path& path, std::initializer_list<std::string_view> pieces);
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  write_file_atomically(path, {bytes});
}

// For writers that create the file themselves (torch::save, an archive writer): `write`
// receives the temporary's path and must fill it; whatever it throws propagates after
// the temporary is removed.
void replace_file_atomically(const std::filesystem::path& path,
                             const std::function<void(const std::filesystem::path& tmp)>& write);

}  // namespace coughkit::io
