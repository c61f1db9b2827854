#include "dataset/sources.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audio/conditioning.h"
#include "audio/decoder.h"
#include "checkpoint/sha256.h"
#include "common/error.h"
#include "dataset/mixing.h"
#include "dataset/output_files.h"
#include "dataset/rng.h"
#include "dataset/subprocess.h"

namespace fs = std::filesystem;

namespace coughkit::dataset {
namespace {

constexpr const char* kMarker = ".coughkit-source.json";

// The lines of a failed command's output worth showing: apt's "E:" lines when there are
// any, else the last n.
std::string last_lines(const std::string& text, int n) {
  std::vector<std::string> lines, errors;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) lines.push_back(text.substr(start, end - start));
    if (lines.size() && lines.back().starts_with("E: ")) errors.push_back(lines.back());
    start = end + 1;
  }
  if (!errors.empty()) lines = errors;
  std::string out;
  for (std::size_t i = lines.size() > static_cast<std::size_t>(n) ? lines.size() - n : 0; i < lines.size(); ++i)
    out += (out.empty() ? "" : " | ") + lines[i];
  return out.empty() ? "(no output)" : out;
}

std::string sha256_string(std::string_view data) {
  checkpoint::Sha256 h;
  h.update(data);
  return h.hex_digest();
}

// Removes everything under root except the `keep` paths (relative, '/'-separated) and the
// directories leading to them.
void prune_tree(const fs::path& root, const std::vector<std::string>& keep, const fs::path& rel = {}) {
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(root / rel)) entries.push_back(e.path());
  for (const auto& path : entries) {
    const fs::path r = rel / path.filename();
    const std::string s = r.generic_string();
    bool kept = false, ancestor = false;
    for (const auto& k : keep) {
      if (s == k || s.starts_with(k + "/")) kept = true;
      if (k.starts_with(s + "/")) ancestor = true;
    }
    if (kept) continue;
    if (ancestor && fs::is_directory(fs::symlink_status(path)))
      prune_tree(root, keep, r);
    else
      fs::remove_all(path);
  }
}

HedgewarsPackage read_marker(const fs::path& dir) {
  const auto j = nlohmann::json::parse(read_file(dir / kMarker));
  HedgewarsPackage p;
  p.root = dir;
  p.version = j.at("version").get<std::string>();
  p.deb_name = j.at("deb_name").get<std::string>();
  p.deb_sha256 = j.at("deb_sha256").get<std::string>();
  return p;
}

std::optional<HedgewarsPackage> cached_package(const fs::path& dir) {
  if (!fs::exists(dir / kMarker) || !fs::is_directory(dir / kHedgewarsDataDir / "Sounds" / "voices"))
    return std::nullopt;
  try {
    return read_marker(dir);
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged marker: unpack again
  }
}

HedgewarsPackage unpack(const fs::path& deb, const fs::path& cache_dir, const LogFn& log) {
  const std::vector<std::string> fields = {"dpkg-deb", "-f", deb.string(), "Package", "Version"};
  const auto info = run_process(fields);
  if (info.exit_code != 0)
    throw InputError(fmt::format("{}: not a readable Debian package: `{}` failed (exit {}): {}", deb.string(),
                                 describe_command(fields), info.exit_code, last_lines(info.output, 3)));
  std::string package, version;
  std::size_t start = 0;
  while (start < info.output.size()) {
    std::size_t end = info.output.find('\n', start);
    if (end == std::string::npos) end = info.output.size();
    const std::string line = info.output.substr(start, end - start);
    if (line.starts_with("Package: ")) package = line.substr(9);
    if (line.starts_with("Version: ")) version = line.substr(9);
    start = end + 1;
  }
  if (package != kHedgewarsPackage)
    throw InputError(fmt::format("{}: is package '{}', expected {}", deb.string(), package, kHedgewarsPackage));

  const fs::path dir = cache_dir / kHedgewarsPackage;
  const fs::path tmp = cache_dir / (std::string(kHedgewarsPackage) + ".partial");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  log(fmt::format("unpacking {} {} with dpkg -x (not installing it)", kHedgewarsPackage, version));
  const std::vector<std::string> argv = {"dpkg", "-x", deb.string(), tmp.string()};
  const auto r = run_process(argv);
  if (r.exit_code != 0)
    throw InputError(
        fmt::format("`{}` failed (exit {}): {}", describe_command(argv), r.exit_code, last_lines(r.output, 3)));
  const std::string data = kHedgewarsDataDir;
  if (!fs::is_directory(tmp / data / "Sounds" / "voices"))
    throw InputError(fmt::format("{}: holds no {}/Sounds/voices", deb.string(), data));
  prune_tree(tmp, {data + "/Sounds/voices", data + "/Locale", "usr/share/doc/hedgewars-data"});

  HedgewarsPackage p;
  p.version = version;
  p.deb_name = deb.filename().string();
  p.deb_sha256 = checkpoint::sha256_file(deb.string());
  const nlohmann::json marker = {
      {"package", package}, {"version", version}, {"deb_name", p.deb_name}, {"deb_sha256", p.deb_sha256}};
  write_file_atomic(tmp / kMarker, marker.dump(2) + "\n");
  fs::remove_all(dir);
  fs::rename(tmp, dir);
  p.root = dir;
  return p;
}

std::string collapse_spaces(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      space = false;
      out += c;
    }
  }
  return out;
}

// Contents of <tip>...</tip> elements, inner tags removed.
std::vector<std::string> tips_of(const std::string& xml) {
  std::vector<std::string> tips;
  std::size_t pos = 0;
  while ((pos = xml.find("<tip>", pos)) != std::string::npos) {
    const std::size_t end = xml.find("</tip>", pos);
    if (end == std::string::npos) break;
    std::string text;
    bool in_tag = false;
    for (std::size_t i = pos + 5; i < end; ++i) {
      if (xml[i] == '<')
        in_tag = true;
      else if (xml[i] == '>')
        in_tag = false;
      else if (!in_tag)
        text += xml[i];
    }
    tips.push_back(text);
    pos = end;
  }
  return tips;
}

// The translated values of a hedgewars Lua locale table: `["english"] = "translation",`.
std::vector<std::string> lua_values(const std::string& lua) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (;;) {
    pos = std::min(lua.find("] = \"", pos), lua.find("]=\"", pos));
    if (pos == std::string::npos) break;
    pos = lua.find('"', pos) + 1;
    std::string value;
    for (; pos < lua.size() && lua[pos] != '"' && lua[pos] != '\n'; ++pos) {
      if (lua[pos] == '\\' && pos + 1 < lua.size()) ++pos;
      value += lua[pos];
    }
    if (value.find('%') == std::string::npos) out.push_back(value);
  }
  return out;
}

struct VoiceSpec {
  const char* voice;
  const char* language;
};
constexpr VoiceSpec kVoices[] = {
    {"en", "en"},
    {"en-us", "en"},
    {"en-gb-scotland", "en"},
    {"en-gb-x-rp", "en"},
    {"en-029", "en"},
    {"en-us-nyc", "en"},
    {"en-gb-x-gbclan", "en"},
    {"de", "de"},
    {"fr-fr", "fr"},
    {"fr-be", "fr"},
    {"es", "es"},
    {"es-419", "es"},
    {"it", "it"},
    {"pl", "pl"},
    {"ru", "ru"},
    {"pt", "pt"},
    {"pt-br", "pt"},
    {"cs", "cs"},
    {"fi", "fi"},
    {"hu", "hu"},
    {"sk", "sk"},
    {"uk", "uk"},
    {"da", "da"},
};
// "" (the voice's own) three times as often as each variant; whisper is a hard negative.
constexpr const char* kVariants[] = {"",   "",   "",   "m1", "m2", "m3", "m4",    "m5",    "m6",
                                     "m7", "f1", "f2", "f3", "f4", "f5", "croak", "klatt", "whisper"};
constexpr const char* kTipLanguages[] = {"cs", "da", "de", "en", "es", "fi", "fr", "hu", "it", "pl", "ru", "sk", "uk"};

// An exclusive flock on a file in the source cache for as long as it lives. Two builds that
// share a cache (the corpus and the long-form set, or parallel tests) would otherwise unpack
// into the same temp directory at once; the second one waits and then finds the package.
class CacheLock {
 public:
  explicit CacheLock(const fs::path& file) : fd_(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ < 0) throw InputError(fmt::format("{}: cannot create the lock file", file.string()));
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) throw InputError(fmt::format("{}: cannot lock it", file.string()));
  }
  ~CacheLock() { ::close(fd_); }
  CacheLock(const CacheLock&) = delete;
  CacheLock& operator=(const CacheLock&) = delete;

 private:
  int fd_;
};

}  // namespace

const char* source_kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::kCough: return "cough";
    case SourceKind::kVoice: return "voice";
    case SourceKind::kSpeech: return "speech";
  }
  return "?";
}

HedgewarsPackage obtain_hedgewars(const fs::path& cache_dir, const std::optional<fs::path>& deb, const LogFn& log) {
  fs::create_directories(cache_dir);
  const CacheLock lock(cache_dir / (std::string(".") + kHedgewarsPackage + ".lock"));
  const fs::path dir = cache_dir / kHedgewarsPackage;
  if (deb) {
    if (!fs::is_regular_file(*deb)) throw InputError(fmt::format("{}: no such file (--hedgewars-deb)", deb->string()));
    const auto cached = cached_package(dir);
    if (cached && cached->deb_sha256 == checkpoint::sha256_file(deb->string())) {
      log(fmt::format("{} {}: already unpacked in the source cache", kHedgewarsPackage, cached->version));
      return *cached;
    }
    return unpack(*deb, cache_dir, log);
  }
  if (const auto cached = cached_package(dir)) {
    log(fmt::format("{} {}: already unpacked in the source cache", kHedgewarsPackage, cached->version));
    return *cached;
  }
  const std::vector<std::string> argv = {"apt-get", "download", kHedgewarsPackage};
  log(fmt::format("downloading {} with `{}` (about 145 MB) into {}", kHedgewarsPackage, describe_command(argv),
                  cache_dir.string()));
  const auto r = run_process(argv, cache_dir);
  if (r.exit_code != 0)
    throw InputError(fmt::format(
        "`{}` (run in {}) failed with exit code {}: {}. It needs network access to a Debian mirror and apt's package "
        "lists (apt-get update); offline, pass a copy of the package with --hedgewars-deb FILE",
        describe_command(argv), cache_dir.string(), r.exit_code, last_lines(r.output, 3)));
  std::vector<fs::path> debs;
  for (const auto& e : fs::directory_iterator(cache_dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(std::string(kHedgewarsPackage) + "_") && name.ends_with(".deb")) debs.push_back(e.path());
  }
  if (debs.empty())
    throw InputError(fmt::format("`{}` succeeded but left no {}_*.deb in {}", describe_command(argv), kHedgewarsPackage,
                                 cache_dir.string()));
  std::sort(debs.begin(), debs.end(), [](const fs::path& a, const fs::path& b) {
    return fs::last_write_time(a) < fs::last_write_time(b) ||
           (fs::last_write_time(a) == fs::last_write_time(b) && a < b);
  });
  const auto package = unpack(debs.back(), cache_dir, log);
  for (const auto& d : debs) fs::remove(d);  // the unpacked voices are all that is needed
  return package;
}

std::vector<VoiceFile> list_voice_files(const HedgewarsPackage& package) {
  const fs::path voices = package.root / kHedgewarsDataDir / "Sounds" / "voices";
  std::vector<VoiceFile> files;
  for (const auto& pack : fs::directory_iterator(voices)) {
    if (!pack.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(pack.path())) {
      if (!f.is_regular_file() || f.path().extension() != ".ogg") continue;
      VoiceFile v;
      v.pack = pack.path().filename().string();
      v.name = f.path().stem().string();
      v.relative = fs::relative(f.path(), package.root).generic_string();
      v.cough = f.path().filename() == "PoisonCough.ogg";
      files.push_back(std::move(v));
    }
  }
  std::sort(files.begin(), files.end(), [](const VoiceFile& a, const VoiceFile& b) { return a.relative < b.relative; });
  return files;
}

EspeakInfo find_espeak() {
  const auto program = find_program("espeak-ng");
  if (!program)
    throw InputError(
        "espeak-ng is not installed (it speaks the synthetic speech negatives): install it with "
        "`apt-get install espeak-ng` (scripts/install-deps.sh does), or pass --speech-clips 0");
  EspeakInfo info;
  info.program = *program;
  const auto r = run_process({program->string(), "--version"});
  const std::string marker = "text-to-speech: ";
  const auto pos = r.output.find(marker);
  if (r.exit_code != 0 || pos == std::string::npos)
    throw InputError(
        fmt::format("`{} --version` failed (exit {}): {}", program->string(), r.exit_code, last_lines(r.output, 2)));
  const std::size_t start = pos + marker.size();
  info.version = r.output.substr(start, r.output.find_first_of(" \n", start) - start);
  if (find_program("dpkg-query")) {
    const auto q = run_process({"dpkg-query", "-W", "-f=${Version}", "espeak-ng"});
    if (q.exit_code == 0) info.package_version = q.output;
  }
  return info;
}

std::vector<std::string> extract_sentences(const std::string& raw) {
  const std::string text = collapse_spaces(raw);
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const bool end_of_text = i == text.size();
    const bool stop = !end_of_text && (text[i] == '.' || text[i] == '!' || text[i] == '?' || text[i] == ';') &&
                      (i + 1 == text.size() || text[i + 1] == ' ');
    if (!stop && !end_of_text) continue;
    std::string s = text.substr(start, (end_of_text ? i : i + 1) - start);
    start = i + 1;
    // Leading list markers, quotes and brackets.
    std::size_t lead = 0;
    while (lead < s.size() && !std::isalpha(static_cast<unsigned char>(s[lead])) &&
           static_cast<unsigned char>(s[lead]) < 0x80)
      ++lead;
    s = s.substr(lead);
    if (s.size() > 140 || s.size() < 12) continue;
    int words = 1, digits = 0, upper = 0, letters = 0;
    bool bad = false;
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == ' ') ++words;
      if (std::isdigit(u)) ++digits;
      if (std::isalpha(u)) ++letters, upper += std::isupper(u) ? 1 : 0;
      if (std::string_view("<>{}[]|_@=%#*/\\\"").find(c) != std::string_view::npos) bad = true;
    }
    if (bad || digits > 2 || words < 4 || words > 20 || s.find("http") != std::string::npos ||
        s.find("www.") != std::string::npos || (letters > 0 && upper * 2 > letters))
      continue;
    out.push_back(s);
  }
  return out;
}

TextPools load_text_pools(const fs::path& licenses_dir, const std::optional<HedgewarsPackage>& hedgewars) {
  std::map<std::string, std::set<std::string>> pools;
  if (fs::is_directory(licenses_dir)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(licenses_dir))
      if (fs::is_regular_file(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      for (auto& s : extract_sentences(read_file(f))) pools["en"].insert(std::move(s));
  }
  if (hedgewars) {
    const fs::path locale = hedgewars->root / kHedgewarsDataDir / "Locale";
    for (const char* lang : kTipLanguages) {
      const fs::path tips = locale / fmt::format("tips_{}.xml", lang);
      if (!fs::is_regular_file(tips)) continue;
      for (const auto& tip : tips_of(read_file(tips)))
        for (auto& s : extract_sentences(tip)) pools[lang].insert(std::move(s));
    }
    const fs::path pt = locale / "pt_PT.lua";
    if (fs::is_regular_file(pt))
      for (const auto& v : lua_values(read_file(pt)))
        for (auto& s : extract_sentences(v)) pools["pt"].insert(std::move(s));
  }
  TextPools out;
  for (auto& [lang, set] : pools)
    if (!set.empty()) out.emplace_back(lang, std::vector<std::string>(set.begin(), set.end()));
  return out;
}

std::vector<std::string> Utterance::argv(const std::string& program, const std::string& wav_path) const {
  return {program, "-v", voice, "-s", std::to_string(speed), "-p", std::to_string(pitch), "-w", wav_path, "--", text};
}

std::string Utterance::cache_key(const std::string& espeak_version) const {
  return sha256_string(fmt::format("espeak-ng {}\n{}\n{}\n{}\n{}", espeak_version, voice, speed, pitch, text));
}

std::vector<Utterance> plan_utterances(std::size_t count, std::uint64_t seed, const TextPools& pools) {
  std::vector<std::pair<const VoiceSpec*, const std::vector<std::string>*>> voices;
  for (const auto& v : kVoices)
    for (const auto& [lang, pool] : pools)
      if (lang == v.language) voices.emplace_back(&v, &pool);
  if (count > 0 && voices.empty())
    throw InputError("no sentences to speak: /usr/share/common-licenses and hedgewars' locale files gave none");
  Rng rng = Rng::derive(seed, "utterances");
  std::vector<Utterance> out;
  std::set<std::string> seen;
  for (std::size_t i = 0; out.size() < count && i < count * 20; ++i) {
    const auto& [spec, pool] = voices[rng.index(voices.size())];
    const std::string variant = kVariants[rng.index(std::size(kVariants))];
    Utterance u;
    u.voice = variant.empty() ? spec->voice : fmt::format("{}+{}", spec->voice, variant);
    u.language = spec->language;
    u.speed = static_cast<int>(rng.integer(120, 210));
    u.pitch = static_cast<int>(rng.integer(20, 80));
    u.text = (*pool)[rng.index(pool->size())];
    if (seen.insert(u.voice + "\n" + u.text).second) out.push_back(std::move(u));
  }
  return out;
}

fs::path synthesize(const Utterance& u, const EspeakInfo& espeak, const fs::path& cache_dir) {
  static std::atomic<unsigned> counter{0};
  const fs::path dir = cache_dir / "espeak";
  fs::create_directories(dir);
  const std::string key = u.cache_key(espeak.version).substr(0, 24);
  const fs::path wav = dir / (key + ".wav");
  if (fs::is_regular_file(wav) && fs::file_size(wav) > 44) return wav;
  const fs::path tmp = dir / fmt::format(".{}.tmp-{}-{}.wav", key, ::getpid(), counter.fetch_add(1));
  const auto argv = u.argv(espeak.program.string(), tmp.string());
  const auto r = run_process(argv);
  if (r.exit_code != 0 || !fs::is_regular_file(tmp) || fs::file_size(tmp) <= 44) {
    fs::remove(tmp);
    throw InputError(
        fmt::format("`{}` failed (exit {}): {}", describe_command(argv), r.exit_code, last_lines(r.output, 3)));
  }
  fs::rename(tmp, wav);
  return wav;
}

std::vector<float> load_clip_16k(const fs::path& file) {
  return trim_silence(audio::condition(audio::decode_file(file.string())), -40.0, 160);
}

}  // namespace coughkit::dataset
