#pragma once
// The AttnMILResNet interface of docs/pipeline.md section 6, checked on an imported graph:
// inputs `spectrograms` float (B,S,3,224,224) and `segment_mask` bool (B,S); outputs
// `bag_probability` (B), `segment_probabilities` (B,S), `segment_logits` (B,S),
// `bag_logit` (B). Extra outputs are dropped (so nothing computes them).
#include <array>
#include <string>

#include "model/graph.h"

namespace coughkit::model {

inline const std::array<std::string, 2> kInputNames = {"spectrograms", "segment_mask"};
inline const std::array<std::string, 4> kOutputNames = {"bag_probability", "segment_probabilities", "segment_logits",
                                                        "bag_logit"};

// Throws InputError naming the file and what differs. Reorders g.inputs/g.outputs to the
// order of kInputNames/kOutputNames.
void check_model_contract(Graph& g);

}  // namespace coughkit::model
