#pragma once
// Labelled clip lists for training: the `file_path,cough_label` CSVs of the reference
// training pipeline (one row per audio clip, header required, extra columns ignored), with
// an optional `segment_labels` column (docs/pipeline.md section 8, segment labels).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace coughkit::features {

struct LabelledClip {
  std::string file_path;  // as written in the CSV (relative to a base directory, or absolute)
  int label = 0;          // 1 = cough, 0 = no cough
  std::size_t line = 0;   // 1-based line of the CSV where the row starts (the header is line 1)
  // One 0/1 per segment of the clip (the `segment_labels` column, e.g. "00110"); empty when
  // the CSV has no such column or the row's field is empty.
  std::vector<std::uint8_t> segment_labels;
};

// Reads a `file_path,cough_label` CSV: header row required, columns in any order, extra
// columns ignored; RFC 4180 quoting (fields with commas, newlines, "" escapes); LF or CRLF
// line ends; a UTF-8 byte-order mark and blank lines are skipped. Labels are parsed as the
// reference did: the lower-cased trimmed text in {true, 1, yes, y} is 1, anything else is 0;
// a label outside {true, 1, yes, y, false, 0, no, n} (including an empty one) is logged as
// a warning naming file:line. A `segment_labels` field, when present and not empty, is a
// string of '0'/'1' characters, one per segment (spaces ignored). Throws coughkit::InputError naming the file (and
// line) for a missing/unreadable file, a missing header or column, an unterminated quote, an empty path, a
// segment_labels field with any other character.
std::vector<LabelledClip> read_labels_csv(const std::string& csv_path);

// The audio path of a row: `file_path` itself when absolute (or when base_dir is empty),
// else base_dir / file_path.
std::string resolve_audio_path(const std::string& base_dir, const std::string& file_path);

}  // namespace coughkit::features
