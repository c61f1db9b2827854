// io::write_file_atomically / replace_file_atomically: the new content appears whole or
// not at all, a failed write leaves the old file and no temporary behind, and the errors
// name the file and the reason.
#include "io/atomic_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_data.h"

namespace coughkit {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AtomicFile, WritesThePiecesInOrderAndReplacesTheOldContent) {
  const fs::path dir = testing::scratch_dir(), target = dir / "out.bin";
  const std::string binary("\x00\x01\xff\n", 4);
  io::write_file_atomically(target, {"header|", binary, "|tail"});
  EXPECT_EQ(testing::file_contents(target), "header|" + binary + "|tail");
  io::write_file_atomically(target, "second");
  EXPECT_EQ(testing::file_contents(target), "second");
  io::write_file_atomically(target, "");
  EXPECT_EQ(fs::file_size(target), 0u);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"out.bin"}) << "a temporary was left behind";
}

TEST(AtomicFile, AnUnwritableTargetNamesTheFileAndLeavesNothing) {
  const fs::path dir = testing::scratch_dir();
  const fs::path missing = dir / "no_such_dir" / "out.bin";
  try {
    io::write_file_atomically(missing, "x");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(missing.string()), std::string::npos) << what;
    EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
  }
  // A directory in the way: the temporary is written, the rename fails, the temporary goes.
  fs::create_directory(dir / "taken");
  fs::create_directory(dir / "taken" / "child");
  EXPECT_THROW(io::write_file_atomically(dir / "taken", "x"), std::runtime_error);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"taken"});
  EXPECT_TRUE(fs::is_directory(dir / "taken" / "child"));
}

TEST(AtomicFile, AWriterThatFailsKeepsTheOldFileAndRemovesItsTemporary) {
  const fs::path dir = testing::scratch_dir(), target = dir / "model.ckpt";
  io::write_file_atomically(target, "old and complete");
  fs::path seen;
  EXPECT_THROW(io::replace_file_atomically(target,
                                           [&](const fs::path& tmp) {
                                             seen = tmp;
                                             std::ofstream(tmp) << "half of the new";
                                             throw std::runtime_error("writer gave up");
                                           }),
               std::runtime_error);
  EXPECT_EQ(seen.parent_path(), dir) << "the temporary must sit beside the target (same file system)";
  EXPECT_NE(seen, target);
  EXPECT_EQ(testing::file_contents(target), "old and complete");
  EXPECT_EQ(entries(dir), std::vector<std::string>{"model.ckpt"});
}

TEST(AtomicFile, ConcurrentWritersNeverShareATemporary) {
  // Readers racing the writers only ever see one writer's complete content.
  const fs::path dir = testing::scratch_dir(), target = dir / "shared.txt";
  io::write_file_atomically(target, std::string(4096, 'a'));
  std::vector<std::thread> writers;
  for (char c : {'b', 'c', 'd', 'e'})
    writers.emplace_back([&, c] {
      for (int i = 0; i < 50; ++i) io::write_file_atomically(target, std::string(4096, c));
    });
  int reads = 0;
  for (; reads < 200; ++reads) {
    const std::string s = testing::file_contents(target);
    ASSERT_EQ(s.size(), 4096u);
    ASSERT_EQ(s.find_first_not_of(s[0]), std::string::npos) << "mixed content";
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(entries(dir), std::vector<std::string>{"shared.txt"});
}

}  // namespace
}  // namespace coughkit
