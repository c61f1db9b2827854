// The training label CSVs (`coughkit precompute`, `train`, `compare --csv`):
// file_path,cough_label[,segment_labels] with RFC 4180 quoting.
#include <cstdint>

#include "features/labels_csv.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = coughkit::fuzz::input_file(data, size, "labels.csv");
  coughkit::fuzz::expect_clean_refusal("clip_labels_csv", [&] {
    for (const auto& row : coughkit::features::read_labels_csv(path))
      if (row.file_path.empty() || (row.label != 0 && row.label != 1))
        coughkit::fuzz::report_finding("clip_labels_csv", "a row with an empty path or a label other than 0/1");
  });
  return 0;
}
