#include "features/labels_csv.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"

namespace coughkit::features {
namespace {

struct CsvRecord {
  std::vector<std::string> fields;
  std::size_t line = 0;
};

// Splits RFC 4180 text into records. Blank lines are dropped; CR before LF is dropped.
std::vector<CsvRecord> parse_csv(const std::string& text, const std::string& name) {
  std::vector<CsvRecord> records;
  std::size_t i = 0, line = 1;
  if (text.starts_with("\xEF\xBB\xBF")) i = 3;
  const std::size_t n = text.size();
  while (i < n) {
    CsvRecord rec;
    rec.line = line;
    std::string field;
    bool record_done = false;
    while (!record_done) {
      field.clear();
      if (i < n && text[i] == '"') {
        const std::size_t quote_line = line;
        ++i;
        bool closed = false;
        while (i < n) {
          const char c = text[i++];
          if (c == '"') {
            if (i < n && text[i] == '"') {
              field.push_back('"');
              ++i;
            } else {
              closed = true;
              break;
            }
          } else {
            if (c == '\n') ++line;
            field.push_back(c);
          }
        }
        if (!closed) throw InputError(fmt::format("{}:{}: unterminated quoted field", name, quote_line));
        // Text between the closing quote and the next separator is kept, as Python's csv does.
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') field.push_back(text[i++]);
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') field.push_back(text[i++]);
      }
      rec.fields.push_back(field);
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      // End of record: \n, \r\n, lone \r, or end of text.
      if (i < n && text[i] == '\r') ++i;
      if (i < n && text[i] == '\n') ++i;
      ++line;
      record_done = true;
    }
    const bool blank = rec.fields.size() == 1 && rec.fields[0].empty();
    if (!blank) records.push_back(std::move(rec));
  }
  return records;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n\f\v");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n\f\v");
  return s.substr(first, last - first + 1);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::vector<LabelledClip> read_labels_csv(const std::string& csv_path) {
  if (std::filesystem::is_directory(csv_path))
    throw InputError(fmt::format("{}: is a directory, not a labels CSV", csv_path));
  std::ifstream in(csv_path, std::ios::binary);
  if (!in) {
    const bool exists = std::filesystem::exists(csv_path);
    throw InputError(fmt::format("{}: {}", csv_path, exists ? "cannot read the labels CSV" : "labels CSV not found"));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw InputError(fmt::format("{}: cannot read the labels CSV", csv_path));
  const auto records = parse_csv(buffer.str(), csv_path);
  if (records.empty())
    throw InputError(fmt::format("{}: empty CSV (expected a header with file_path,cough_label)", csv_path));

  const auto& header = records.front();
  std::optional<std::size_t> path_col, label_col, segments_col;
  std::string columns;
  for (std::size_t c = 0; c < header.fields.size(); ++c) {
    const std::string name = trim(header.fields[c]);
    columns += (c ? ", " : "") + name;
    if (name == "file_path" && !path_col) path_col = c;
    if (name == "cough_label" && !label_col) label_col = c;
    if (name == "segment_labels" && !segments_col) segments_col = c;
  }
  if (!path_col || !label_col)
    throw InputError(fmt::format("{}:{}: missing column{} {} in the header (found: {}); expected file_path,cough_label",
                                 csv_path, header.line, !path_col && !label_col ? "s" : "",
                                 !path_col && !label_col ? "file_path and cough_label"
                                 : !path_col             ? "file_path"
                                                         : "cough_label",
                                 columns));

  static const std::vector<std::string> kTrue = {"true", "1", "yes", "y"};
  static const std::vector<std::string> kFalse = {"false", "0", "no", "n"};
  std::vector<LabelledClip> rows;
  rows.reserve(records.size() - 1);
  for (std::size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    LabelledClip clip;
    clip.line = rec.line;
    clip.file_path = *path_col < rec.fields.size() ? rec.fields[*path_col] : std::string{};
    if (trim(clip.file_path).empty()) throw InputError(fmt::format("{}:{}: empty file_path", csv_path, rec.line));
    const std::string raw = *label_col < rec.fields.size() ? rec.fields[*label_col] : std::string{};
    const std::string label = lower(trim(raw));
    clip.label = std::find(kTrue.begin(), kTrue.end(), label) != kTrue.end() ? 1 : 0;
    if (!clip.label && std::find(kFalse.begin(), kFalse.end(), label) == kFalse.end())
      spdlog::warn("{}:{}: cough_label '{}' is not one of true/1/yes/y/false/0/no/n; read as 0 (no cough)", csv_path,
                   rec.line, raw);
    if (segments_col && *segments_col < rec.fields.size()) {
      for (const char ch : rec.fields[*segments_col]) {
        if (ch == ' ') continue;
        if (ch != '0' && ch != '1')
          throw InputError(fmt::format("{}:{}: segment_labels '{}' is not a string of 0 and 1, one per segment",
                                       csv_path, rec.line, rec.fields[*segments_col]));
        clip.segment_labels.push_back(static_cast<std::uint8_t>(ch - '0'));
      }
    }
    rows.push_back(std::move(clip));
  }
  return rows;
}

std::string resolve_audio_path(const std::string& base_dir, const std::string& file_path) {
  const std::filesystem::path p(file_path);
  if (base_dir.empty() || p.is_absolute()) return file_path;
  return (std::filesystem::path(base_dir) / p).string();
}

}  // namespace coughkit::features
