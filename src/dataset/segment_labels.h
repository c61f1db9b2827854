#pragma once
// Which 2-s segments of a corpus scene hold a cough (docs/pipeline.md section 8, segment
// labels): the labels `coughkit train --segment-loss-weight` learns the segment head from.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace coughkit::dataset {

// A segment is positive when it holds at least this share of one cough's audible duration:
// half, so each cough is positive in the windows that hold most of it (about three of the
// 2-s windows every 0.5 s for a 0.4-s cough) and not in one that only grazes its edge.
inline constexpr double kCoughShareOfPositiveSegment = 0.5;

// One 0/1 per segment of the scene as training segments it (its 16-kHz length after
// resampling, docs/pipeline.md section 3: every 0.5 s, short scenes padded to one segment,
// at most 32), from a scenes.jsonl record (frames, sample_rate, events with kind, offset_s,
// duration_s). Throws nlohmann::json's errors for a record without those fields.
std::vector<std::uint8_t> scene_segment_labels(const nlohmann::json& scene_record);

// As the `segment_labels` CSV column writes them: "0110".
std::string segment_labels_text(const std::vector<std::uint8_t>& labels);

}  // namespace coughkit::dataset
