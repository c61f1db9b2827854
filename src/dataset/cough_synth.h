#pragma once
// A parametric cough synthesiser: more varied cough positives for the corpus than the few
// real cough recordings the machine has (docs/pipeline.md section 12). A cough is modelled
// in its three acoustic phases (Morice et al.'s description of the cough sound):
//   1. explosive phase: the glottis opens on built-up pressure; a broadband noise burst with
//      a 1-5 ms rise and a fast decay (20-60 ms);
//   2. intermediate phase: turbulent airflow through the open glottis; noise shaped by the
//      vocal tract's resonances (formants), decaying over 80-300 ms;
//   3. voiced phase (present in about 60 % of coughs): the vocal folds close and vibrate; a
//      glottal pulse train at 90-320 Hz, gliding down, through the same formants, 50-250 ms.
// Every parameter is drawn from the given Rng, so a cough is a function of its seed.
#include <string>
#include <vector>

#include "dataset/rng.h"

namespace coughkit::dataset {

// Part of a corpus's fingerprint when it has synthetic coughs: raise it when the sound changes.
inline constexpr int kCoughSynthesiserVersion = 1;

struct CoughParams {
  double burst_s = 0, intermediate_s = 0, voiced_s = 0;  // phase lengths; voiced_s 0 = no voiced phase
  double attack_s = 0;                                   // rise of the burst
  double formants_hz[3] = {0, 0, 0}, bandwidths_hz[3] = {0, 0, 0};
  double burst_cutoff_hz = 0;                 // low-pass of the burst's broadband part
  double intermediate_db = 0, voiced_db = 0;  // phase levels relative to the burst
  double f0_hz = 0, f0_end_ratio = 1;         // voiced pitch at the start, and its glide
  double aspiration = 0;                      // noise mixed into the voiced phase (0-1)
  double lead_s = 0, tail_s = 0;              // silence before and after
  bool voiced() const { return voiced_s > 0; }
  double sound_s() const { return burst_s + intermediate_s + voiced_s; }
};

// Draws the parameters of one cough.
CoughParams draw_cough_params(Rng& rng);

// The cough of `params` at 16 kHz (kMixRate), peak-normalised to 1; the noise comes from
// `rng`. lead_s of silence, then the three phases, then tail_s.
std::vector<float> synthesise_cough(const CoughParams& params, Rng& rng);

// The description written into sources.csv's origin column.
std::string describe(const CoughParams& params);

}  // namespace coughkit::dataset
