#pragma once
// `coughkit dataset build --out DIR`: a labelled training corpus (cough / not cough) assembled
// from what a fresh Debian 12 machine can get, written as the CSV lists `coughkit train` and
// the reference training code read (header `file_path,cough_label`).
//
// Sources (fetched at run time into the source cache, default DIR/sources, --source-cache):
//  1. hedgewars-data, the Debian package: `apt-get download hedgewars-data` run in the cache
//     and `dpkg -x` (never installed; --hedgewars-deb FILE uses a given .deb instead). The
//     unpacked tree is pruned to the voice packs, the locale files and the copyright file, and
//     a marker makes later runs skip both steps. Its voice packs
//     (usr/share/games/hedgewars/Data/Sounds/voices/<Pack>/*.ogg) are real recordings:
//     PoisonCough.ogg (6 files, 5 unique: Default_pl and Russian_pl share one) are the only
//     coughs, every other line (833 files, 799 unique in 1.0.2-6; grunts like Ooff/Ow
//     included) a non-cough "voice".
//     Every file is de-duplicated by the SHA-256 of its bytes. hedgewars-data is GPL-2; see
//     usr/share/doc/hedgewars-data/copyright in the cache. No other package's audio is used:
//     audio from other Debian packages is held out for independent evaluation.
//  2. espeak-ng (the program; scripts/install-deps.sh installs it) speaking sentences from
//     the license texts in /usr/share/common-licenses (English voices) and from hedgewars'
//     translated tips and strings (de, fr, es, it, pl, ru, pt, cs, fi, hu, sk, uk, da), in
//     23 voices/accents with variants (+m1..m7, +f1..f5, croak, klatt, whisper), speeds
//     120-210 wpm and pitches 20-80: --speech-clips utterances (default 160), each cached as
//     DIR/sources/espeak/<key>.wav. espeak-ng runs as a subprocess without a shell.
//  3. Backgrounds synthesised from the seed: white, pink, brown noise, 50/60 Hz mains hum
//     with harmonics, fan-like band-limited noise, clicks, and babble (3-6 streams of the
//     split's own voice/speech clips), always over a quieter white floor; 40% of scenes get a
//     room reverb (convolution with an exponentially decaying noise impulse response,
//     RT60 0.15-0.8 s) applied to their events.
//  Every clip is conditioned like the pipeline's input (peak-normalised, mono, 16 kHz;
//  docs/pipeline.md section 2) and trimmed of leading/trailing silence; the result is cached as raw
//  float32 in DIR/sources/clips16k-v1/<sha256>.f32 so later runs skip the decoding. The
//  cache holds ~150 MB for the defaults (unpacked voices 27 MB, espeak WAVs 32 MB, clips
//  91 MB); the downloaded .deb (145 MB) is deleted once unpacked.
//
// Splits are by source: every unique source clip belongs to exactly one of train/val/test,
// chosen from --seed (coughs: val and test get max(1, round(n/5)) each, so 5 -> 3/1/1; fewer
// than 3 unique coughs is an error; voices and speech: 70/15/15). A split's scenes use only
// its own sources, so no recording is heard in two splits.
//
// Scenes: duration log-uniform in 1-10 s (mean 3.9 s; short scenes are favoured because
// training cost grows with the number of 2-s segments, 1 for <= 2 s, 17 for 10 s), a
// background, then events. Positive scenes (--positive-fraction, default 0.4, of each split,
// exactly rounded) hold 1-3 coughs, each played 0.85-1.15x faster/slower by resampling,
// entirely inside the scene and not overlapping each other (a scene is lengthened when a
// cough would not fit), and in 40% of them 1-2 voice/speech events as well. Negative scenes
// hold 1-3 voice/speech events (hedgewars voices and espeak speech equally often, played
// 0.9-1.1x), or, in 25% of them, the background alone. Each event's power over its span is
// 0-30 dB above the background's (uniform). The 16 kHz mix is resampled to the file's rate
// (16000, 22050, 32000, 44100 or 48000 Hz, uniform), 25% of files are stereo (events and
// background panned; the channel mean is the mono mix), and the whole file is scaled to a peak
// of -12 to -1 dBFS (so it never clips) and written as 16-bit PCM WAV. Label 1 = the scene
// contains a cough event.
//
// Outputs in DIR:
//   audio/<split>/<split>_NNNN.wav
//   train.csv, val.csv, test.csv   file_path,cough_label (paths relative to DIR, labels 1/0)
//   scenes.jsonl   one JSON line per scene: file, split, label, duration, rate, channels,
//                  background and level, reverb, events (source id, kind, offset, duration,
//                  speed, SNR, gain, pan)
//   sources.csv    source_id,kind,split,duration_s,sha256,origin,text
//   dataset.json   counts per split and label, seed, options, versions of hedgewars-data and
//                  espeak-ng, the command line, a fingerprint of everything that shapes the
//                  output; written last, it marks the directory complete.
//
// Deterministic: the same options and sources give byte-identical WAVs and CSVs whatever
// --jobs is (each scene draws from its own generator seeded by --seed, split and index).
// The defaults (460 scenes, ~30 min of audio, ~146 MB of WAV) take about a minute on 2 cores
// plus the download.
// Resumable: files are written to temp names and renamed; an interrupted run keeps its
// finished scenes (DIR/.partial holds their records) and a re-run renders only the rest; a
// re-run into a complete DIR with the same options only checks it. Scenes left over from a
// run with more scenes are deleted.
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "dataset/scene.h"

namespace coughkit::dataset {

struct BuildOptions {
  std::filesystem::path out_dir;
  std::filesystem::path source_cache;  // empty: out_dir / "sources"
  std::optional<std::filesystem::path> hedgewars_deb;
  std::size_t train_scenes = 300, val_scenes = 80, test_scenes = 80;
  double positive_fraction = 0.4;
  std::uint64_t seed = 1;
  std::size_t speech_clips = 160;  // espeak-ng utterances (0: no speech, espeak-ng not needed)
  // Coughs from the cough synthesiser (cough_synth.h) added to the training split's cough
  // sources; validation and test keep recorded coughs only. 0: none (the corpus is then
  // the same as without the option).
  std::size_t synthetic_coughs = 0;
  unsigned jobs = 0;         // 0: all cores; never changes the output
  std::string command_line;  // recorded in dataset.json
  std::filesystem::path licenses_dir = "/usr/share/common-licenses";
  SceneParams scene;

  void Validate() const;  // throws ConfigError naming the field
};

// Callbacks for the front end; all are optional and called from one thread at a time.
struct BuildObserver {
  std::function<void(const std::string& message)> log;
  std::function<void(const std::string& stage, std::size_t total)> stage;  // a counted stage begins
  std::function<void(const std::string& item)> advance;                    // one item of it is done
};

struct SplitSummary {
  std::size_t scenes = 0, positive = 0, negative = 0;
  double audio_s = 0;
  std::size_t cough_sources = 0, voice_sources = 0, speech_sources = 0;
};

struct BuildSummary {
  bool already_complete = false;       // nothing was rendered: DIR held this exact dataset
  std::array<SplitSummary, 3> splits;  // indexed by Split
  std::size_t rendered = 0, resumed = 0;
  std::uintmax_t bytes = 0;  // of the WAV files
  std::string hedgewars_version, espeak_version;
};

// Builds (or completes, or checks) the dataset. Throws InputError for unusable inputs or
// environment (no network for apt-get, no espeak-ng, a bad .deb, too few coughs, an unwritable
// directory) with a message naming the command or file, ConfigError for bad options.
BuildSummary build_dataset(const BuildOptions& options, const BuildObserver& observer = {});

// The corpus's sources without the scenes: every unique clip, loaded and assigned to its split
// exactly as build_dataset does for the same source options (source_cache or out_dir/sources,
// hedgewars_deb, speech_clips, seed, licenses_dir, jobs; the scene counts are not used).
// Other builders (the long-form set, long_form.h) draw from one split of it, so they reach
// the same held-out sources as the corpus of that --seed. Throws as build_dataset does.
struct CorpusSources {
  std::string hedgewars_version, hedgewars_deb_sha256, espeak_version;
  std::string utterances_sha256;  // of the planned utterances' cache keys (part of a fingerprint)
  std::vector<SourceClip> clips;  // coughs, voices, speech; each group sorted by id
};
CorpusSources load_corpus_sources(const BuildOptions& options, const BuildObserver& observer = {});

}  // namespace coughkit::dataset
