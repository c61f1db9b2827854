#pragma once
// Where the dataset's audio comes from (see dataset_builder.h for the user's view):
//  - hedgewars-data, the Debian package, fetched with `apt-get download` and unpacked with
//    `dpkg -x` into the source cache (never installed): its voice packs hold the only real
//    coughs (PoisonCough.ogg) and ~830 real non-cough voice lines;
//  - espeak-ng utterances of sentences from /usr/share/common-licenses and hedgewars' own
//    translated tips, cached as WAV files.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dataset/splits.h"

namespace coughkit::dataset {

enum class SourceKind { kCough, kVoice, kSpeech };
const char* source_kind_name(SourceKind kind);  // "cough", "voice", "speech"

// One unique source recording, conditioned to 16 kHz mono (peak 1), silence trimmed.
struct SourceClip {
  std::string id;  // "hw:Default/PoisonCough", "espeak:0042"
  SourceKind kind = SourceKind::kVoice;
  Split split = Split::kTrain;
  std::string origin;  // package paths (duplicates joined by ';') or the espeak-ng command
  std::string text;    // what is said (espeak only)
  std::string sha256;  // of the file's bytes (the .ogg, or the .wav espeak-ng wrote)
  std::vector<float> samples;
  bool synthetic = false;  // made by the cough synthesiser (cough_synth.h), not recorded
  double duration_s() const { return static_cast<double>(samples.size()) / 16000.0; }
};

using LogFn = std::function<void(const std::string&)>;

// ---- hedgewars-data -------------------------------------------------------------------

inline constexpr const char* kHedgewarsPackage = "hedgewars-data";
// Relative to the unpacked package root.
inline constexpr const char* kHedgewarsDataDir = "usr/share/games/hedgewars/Data";

struct HedgewarsPackage {
  std::filesystem::path root;  // the unpacked tree (holds usr/share/...)
  std::string version;         // Debian version, e.g. "1.0.2-6"
  std::string deb_name;        // file name of the .deb it came from
  std::string deb_sha256;
};

// Returns the unpacked package in cache_dir/hedgewars-data, obtaining it when missing:
// `apt-get download hedgewars-data` run in cache_dir (skipped when `deb` is given), then
// `dpkg -x` into a temp dir, pruned to the voices, the locale files and the copyright, and
// renamed into place; a downloaded .deb is deleted afterwards. A marker file records the
// version and the .deb's hash, so a later call returns at once (with `deb`: when its hash
// matches). Throws InputError naming the failing command (e.g. no network) or file.
HedgewarsPackage obtain_hedgewars(const std::filesystem::path& cache_dir,
                                  const std::optional<std::filesystem::path>& deb, const LogFn& log);

struct VoiceFile {
  std::string pack;      // "Default"
  std::string name;      // "PoisonCough"
  std::string relative;  // path relative to the package root
  bool cough = false;    // PoisonCough.ogg
};
// Data/Sounds/voices/<Pack>/*.ogg, sorted by relative path.
std::vector<VoiceFile> list_voice_files(const HedgewarsPackage& package);

// ---- espeak-ng ------------------------------------------------------------------------

struct EspeakInfo {
  std::filesystem::path program;
  std::string version;          // "1.51" from `espeak-ng --version`
  std::string package_version;  // from dpkg-query when available, else ""
};
// Throws InputError when espeak-ng is not installed.
EspeakInfo find_espeak();

// Sentences to speak, per language code ("en", "de", ...): English from the license texts in
// licenses_dir, other languages from hedgewars' translated tips (Data/Locale/tips_<lang>.xml)
// and Lua strings. Sorted and de-duplicated.
using TextPools = std::vector<std::pair<std::string, std::vector<std::string>>>;
TextPools load_text_pools(const std::filesystem::path& licenses_dir, const std::optional<HedgewarsPackage>& hedgewars);
// Splits running text into sentences of 4 to 20 words and at most 140 characters.
std::vector<std::string> extract_sentences(const std::string& text);

struct Utterance {
  std::string voice;  // espeak-ng -v value, e.g. "de+f2"
  std::string language;
  int speed = 175;  // -s, words per minute
  int pitch = 50;   // -p, 0..99
  std::string text;
  std::vector<std::string> argv(const std::string& program, const std::string& wav_path) const;
  std::string cache_key(const std::string& espeak_version) const;  // sha256 hex
};
// `count` utterances with voices, variants, speeds, pitches and texts drawn from `seed`.
std::vector<Utterance> plan_utterances(std::size_t count, std::uint64_t seed, const TextPools& pools);
// Synthesises the utterance into cache_dir/espeak/<key>.wav unless that file exists;
// returns its path. Throws InputError when espeak-ng fails.
std::filesystem::path synthesize(const Utterance& u, const EspeakInfo& espeak, const std::filesystem::path& cache_dir);

// Decodes, conditions to 16 kHz mono and trims silence (-40 dB re peak, 10 ms margins).
std::vector<float> load_clip_16k(const std::filesystem::path& file);

}  // namespace coughkit::dataset
