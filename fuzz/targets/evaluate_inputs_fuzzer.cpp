// What `coughkit evaluate` reads: the truth CSV of cough events (file,onset_s,offset_s
// [,coughs]) and the JSON report lines of `coughkit monitor`. The input's first line goes to
// the report parser (both units), the whole input to the CSV reader.
#include <cmath>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "monitoring/evaluation.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string first_line = text.substr(0, text.find('\n'));
  for (const char* unit : {"cough", "event"})
    coughkit::fuzz::expect_clean_refusal("evaluate_inputs", [&] {
      const auto f = coughkit::monitoring::file_from_report(first_line, unit);
      if (!std::isfinite(f.duration_s) || f.duration_s < 0)
        coughkit::fuzz::report_finding("evaluate_inputs", "a report accepted with a duration that is not >= 0");
      for (const auto& d : f.detected)
        if (!(d.offset_s >= d.onset_s))
          coughkit::fuzz::report_finding("evaluate_inputs", "a report accepted with an event ending before it starts");
    });
  const auto path = coughkit::fuzz::input_file(data, size, "truth.csv");
  coughkit::fuzz::expect_clean_refusal("evaluate_inputs", [&] { coughkit::monitoring::read_labels_csv(path); });
  return 0;
}
