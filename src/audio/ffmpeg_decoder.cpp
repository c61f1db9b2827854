// Audio decoding with FFmpeg (docs/pipeline.md section 1). See decoder.h for the contract.
//
// Built as a loadable module (libcoughkit_ffmpeg.so) that decoder.cpp opens on first use:
// linking FFmpeg pulls ~135 shared libraries into every process, ~60-170 ms of dynamic
// loading before main(), which `coughkit --version` and every command that decodes
// nothing should not pay.
//
// Both entry points feed FFmpeg through our own AVIOContext (a FILE* or a memory span),
// never through a URL: FFmpeg would otherwise interpret paths such as "http:..." or
// "concat:..." as protocols, and playlist demuxers (HLS) could open further files named
// inside an upload. Nested opens are refused outright (see refuse_nested_open).
#include "audio/decoder_backend.h"

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <system_error>

#include "common/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
}

namespace coughkit::audio {
namespace {

constexpr int kMinSampleRate = 1000;
constexpr int kMaxSampleRate = 768000;
// Hard memory guards, applied whatever DecodeLimits says: 4 hours of audio, or 2^31
// float samples (8 GiB) across all channels.
constexpr double kMaxSeconds = 4.0 * 3600.0;
constexpr std::uint64_t kMaxSamples = std::uint64_t{1} << 31;
constexpr int kIoBufferSize = 64 * 1024;

[[noreturn]] void fail(const std::string& name, const std::string& reason) { throw InputError(name + ": " + reason); }

std::string seconds_text(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

std::string av_error_text(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

// FFmpeg logs every damaged packet at AV_LOG_ERROR. A server decoding uploads would
// print those for each bad request, and the reasons reach the caller through our
// exceptions anyway, so only fatal messages are kept. The level is process-wide state
// inside FFmpeg, hence set exactly once.
void quiet_ffmpeg_logging() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_FATAL); });
}

// --- byte sources behind the custom AVIOContext ---------------------------------------

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual int read(std::uint8_t* buf, int size) = 0;               // bytes read or AVERROR_EOF
  virtual std::int64_t seek(std::int64_t offset, int whence) = 0;  // new position or < 0
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  int read(std::uint8_t* buf, int size) override {
    const std::size_t left = bytes_.size() - pos_;
    if (left == 0) return AVERROR_EOF;
    const std::size_t n = std::min<std::size_t>(left, static_cast<std::size_t>(size));
    std::copy_n(bytes_.data() + pos_, n, buf);
    pos_ += n;
    return static_cast<int>(n);
  }
  std::int64_t seek(std::int64_t offset, int whence) override {
    const auto size = static_cast<std::int64_t>(bytes_.size());
    std::int64_t base = 0;
    switch (whence) {
      case AVSEEK_SIZE: return size;
      case SEEK_SET: base = 0; break;
      case SEEK_CUR: base = static_cast<std::int64_t>(pos_); break;
      case SEEK_END: base = size; break;
      default: return AVERROR(EINVAL);
    }
    const std::int64_t target = base + offset;
    if (target < 0 || target > size) return AVERROR(EINVAL);
    pos_ = static_cast<std::size_t>(target);
    return target;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

class FileSource final : public ByteSource {
 public:
  FileSource(std::FILE* f, std::int64_t size) : file_(f), size_(size) {}
  ~FileSource() override { std::fclose(file_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  int read(std::uint8_t* buf, int size) override {
    const std::size_t n = std::fread(buf, 1, static_cast<std::size_t>(size), file_);
    if (n > 0) return static_cast<int>(n);
    return std::ferror(file_) ? AVERROR(EIO) : AVERROR_EOF;
  }
  std::int64_t seek(std::int64_t offset, int whence) override {
    if (whence == AVSEEK_SIZE) return size_;
    if (fseeko(file_, static_cast<off_t>(offset), whence) != 0) return AVERROR(errno);
    return static_cast<std::int64_t>(ftello(file_));
  }

 private:
  std::FILE* file_;
  std::int64_t size_;
};

int read_callback(void* opaque, std::uint8_t* buf, int size) {
  return static_cast<ByteSource*>(opaque)->read(buf, size);
}
std::int64_t seek_callback(void* opaque, std::int64_t offset, int whence) {
  // AVSEEK_FORCE is only a hint ("seek even if expensive"); every seek here is cheap.
  return static_cast<ByteSource*>(opaque)->seek(offset, whence & ~AVSEEK_FORCE);
}
int refuse_nested_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) { return AVERROR(EPERM); }

// --- RAII for FFmpeg objects -----------------------------------------------------------

struct IoDeleter {
  void operator()(AVIOContext* io) const {
    av_freep(&io->buffer);  // FFmpeg may have reallocated the buffer we gave it
    avio_context_free(&io);
  }
};
// FFmpeg's free functions take T** and null the pointer; one deleter template fits all.
template <auto Free>
struct FreeWith {
  template <typename T>
  void operator()(T* p) const {
    Free(&p);
  }
};
using IoPtr = std::unique_ptr<AVIOContext, IoDeleter>;
using FormatPtr = std::unique_ptr<AVFormatContext, FreeWith<avformat_close_input>>;
using CodecPtr = std::unique_ptr<AVCodecContext, FreeWith<avcodec_free_context>>;
using PacketPtr = std::unique_ptr<AVPacket, FreeWith<av_packet_free>>;
using FramePtr = std::unique_ptr<AVFrame, FreeWith<av_frame_free>>;

// --- sample conversion -----------------------------------------------------------------

// Appends one frame's samples of type T to the planes, converting each with `convert`.
// Interleaved data has all channels in extended_data[0]; planar has one pointer each.
template <typename T, typename Convert>
void append_samples(const AVFrame& frame, int channels, bool planar, Convert convert,
                    std::vector<std::vector<float>>& planes) {
  const auto n = static_cast<std::size_t>(frame.nb_samples);
  const std::size_t stride = planar ? 1 : static_cast<std::size_t>(channels);
  for (int c = 0; c < channels; ++c) {
    const T* src = reinterpret_cast<const T*>(frame.extended_data[planar ? c : 0]);
    const std::size_t offset = planar ? 0 : static_cast<std::size_t>(c);
    std::vector<float>& dst = planes[static_cast<std::size_t>(c)];
    const std::size_t old = dst.size();
    dst.resize(old + n);
    for (std::size_t i = 0; i < n; ++i) dst[old + i] = convert(src[i * stride + offset]);
  }
}

// Converts by hand rather than with libswresample, which keeps the exactness the contract
// asks for visible here: every integer full scale is a power of two, so float(v) / 2^k is
// the correctly rounded v / full_scale, and float/double input converts bit-exactly.
void append_frame(const AVFrame& frame, int channels, const std::string& name,
                  std::vector<std::vector<float>>& planes) {
  const auto format = static_cast<AVSampleFormat>(frame.format);
  const bool planar = av_sample_fmt_is_planar(format) != 0;
  switch (av_get_packed_sample_fmt(format)) {
    case AV_SAMPLE_FMT_U8:
      append_samples<std::uint8_t>(
          frame, channels, planar, [](std::uint8_t v) { return (static_cast<float>(v) - 128.0f) / 128.0f; }, planes);
      return;
    case AV_SAMPLE_FMT_S16:
      append_samples<std::int16_t>(
          frame, channels, planar, [](std::int16_t v) { return static_cast<float>(v) / 32768.0f; }, planes);
      return;
    case AV_SAMPLE_FMT_S32:  // also carries s24 PCM, left-aligned with a zero low byte
      append_samples<std::int32_t>(
          frame, channels, planar, [](std::int32_t v) { return static_cast<float>(v) / 2147483648.0f; }, planes);
      return;
    case AV_SAMPLE_FMT_S64:
      append_samples<std::int64_t>(
          frame, channels, planar, [](std::int64_t v) { return static_cast<float>(v) / 9223372036854775808.0f; },
          planes);
      return;
    case AV_SAMPLE_FMT_FLT:
      append_samples<float>(
          frame, channels, planar,
          [&](float v) {
            if (!std::isfinite(v)) fail(name, "contains NaN or Inf samples");
            return v;
          },
          planes);
      return;
    case AV_SAMPLE_FMT_DBL:
      // A finite double beyond FLT_MAX would become Inf (and its cast is undefined).
      append_samples<double>(
          frame, channels, planar,
          [&](double v) {
            if (!std::isfinite(v)) fail(name, "contains NaN or Inf samples");
            if (std::fabs(v) > FLT_MAX) fail(name, "contains samples beyond the float range");
            return static_cast<float>(v);
          },
          planes);
      return;
    default:
      fail(name, std::string("unsupported decoded sample format ") +
                     (av_get_sample_fmt_name(format) ? av_get_sample_fmt_name(format) : "?"));
  }
}

// --- the decoder -----------------------------------------------------------------------

// Demuxes and decodes one audio stream, a packet at a time. Two ways to use it: run()
// decodes everything into one DecodedAudio (decode_file/decode_memory, with their caps);
// step() appends whatever one packet gives to the caller's planes (the stream of
// open_audio_stream, no length cap: memory is the caller's block).
class Decoder {
 public:
  Decoder(std::string name, DecodeLimits limits) : name_(std::move(name)), limits_(limits) {}

  DecodedAudio run(ByteSource& source) {
    open(source);
    while (step(out_.planes)) {}
    if (total_frames_ == 0) fail_no_audio();
    return std::move(out_);
  }

  void open(ByteSource& source) {
    open_format(source);
    packet_.reset(av_packet_alloc());
    frame_.reset(av_frame_alloc());
    if (!packet_ || !frame_) fail(name_, "out of memory");
  }

  // Reads one packet and appends the frames it decodes to `planes` (sized to the channel
  // count on the first frame). False once the stream has ended (after the decoder's delayed
  // frames are flushed). Policy for damage: a packet the decoder rejects is skipped
  // (decoders resync on the next one); a demuxer error ends the stream as if it were
  // truncated there. Whatever decoded before is kept.
  bool step(std::vector<std::vector<float>>& planes) {
    if (ended_) return false;
    const int r = av_read_frame(format_.get(), packet_.get());
    if (r == AVERROR(ENOMEM)) fail(name_, "out of memory while reading");
    if (r < 0) {
      if (r != AVERROR_EOF) note_error("read failed", r);
      if (avcodec_send_packet(codec_.get(), nullptr) == 0) drain(planes);  // flush delayed frames
      ended_ = true;
      return false;
    }
    if (packet_->stream_index == stream_index_) {
      const int s = avcodec_send_packet(codec_.get(), packet_.get());
      if (s < 0)
        note_error("damaged packet", s);
      else
        drain(planes);
    }
    av_packet_unref(packet_.get());
    return true;
  }

  [[noreturn]] void fail_no_audio() const {
    fail(name_, last_error_.empty() ? std::string("contains no audio samples")
                                    : "no audio could be decoded (" + last_error_ + ")");
  }

  const DecodedAudio& info() const { return out_; }  // rate, channels, codec (planes unused when streaming)
  std::uint64_t total_frames() const { return total_frames_; }
  // The container's duration in seconds (0 when it does not say), and its creation_time tag.
  double duration_hint_s() const {
    return format_ && format_->duration > 0 ? static_cast<double>(format_->duration) / AV_TIME_BASE : 0.0;
  }
  std::string creation_time() const {
    const AVDictionaryEntry* e = format_ ? av_dict_get(format_->metadata, "creation_time", nullptr, 0) : nullptr;
    if (!e && format_ && stream_index_ >= 0)
      e = av_dict_get(format_->streams[stream_index_]->metadata, "creation_time", nullptr, 0);
    return e && e->value ? e->value : "";
  }
  void set_length_capped(bool capped) { capped_ = capped; }

 private:
  void open_format(ByteSource& source) {
    auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferSize));
    if (!buffer) fail(name_, "out of memory");
    io_.reset(avio_alloc_context(buffer, kIoBufferSize, 0, &source, read_callback, nullptr, seek_callback));
    if (!io_) {
      av_free(buffer);
      fail(name_, "out of memory");
    }
    AVFormatContext* fmt = avformat_alloc_context();
    if (!fmt) fail(name_, "out of memory");
    fmt->pb = io_.get();
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    fmt->io_open = refuse_nested_open;
    // The name only helps probing by extension; nothing is opened by it.
    int r = avformat_open_input(&fmt, name_.c_str(), nullptr, nullptr);
    // On failure avformat_open_input has freed fmt. EOF here means the file ends inside
    // its headers (Ogg, e.g., loses a whole page when cut anywhere inside it).
    if (r == AVERROR_EOF) fail(name_, "truncated: the file ends before its headers do");
    if (r < 0) fail(name_, "not a recognised audio file (" + av_error_text(r) + ")");
    format_.reset(fmt);

    r = avformat_find_stream_info(format_.get(), nullptr);
    if (r < 0) fail(name_, "cannot read stream information (" + av_error_text(r) + ")");

    const AVCodec* codec = nullptr;
    r = av_find_best_stream(format_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (r == AVERROR_STREAM_NOT_FOUND) explain_missing_audio();
    if (r < 0 || !codec) fail(name_, "no decoder for its audio codec (" + av_error_text(r) + ")");
    stream_index_ = r;
    const AVStream* stream = format_->streams[stream_index_];
    for (unsigned i = 0; i < format_->nb_streams; ++i)  // skip demuxing what we never decode
      if (static_cast<int>(i) != stream_index_) format_->streams[i]->discard = AVDISCARD_ALL;

    // Header checks up front, so a lying header fails with its own reason rather than a
    // codec error. They run again on the decoded frames, which are what the output
    // reports (with AAC's SBR, e.g., the decoded rate can differ from the header's).
    const AVCodecParameters* par = stream->codecpar;
    check_rate(par->sample_rate);
    if (par->ch_layout.nb_channels <= 0) fail(name_, "audio stream has zero channels");
    out_.codec = avcodec_get_name(par->codec_id);

    codec_.reset(avcodec_alloc_context3(codec));
    if (!codec_) fail(name_, "out of memory");
    r = avcodec_parameters_to_context(codec_.get(), par);
    if (r < 0) fail(name_, "bad codec parameters (" + av_error_text(r) + ")");
    codec_->pkt_timebase = stream->time_base;
    r = avcodec_open2(codec_.get(), codec, nullptr);
    if (r < 0) fail(name_, "cannot open the " + out_.codec + " decoder (" + av_error_text(r) + ")");
  }

  // av_find_best_stream skips audio streams with no channels or no rate; name those
  // rather than claiming the file has no audio.
  [[noreturn]] void explain_missing_audio() const {
    for (unsigned i = 0; i < format_->nb_streams; ++i) {
      const AVCodecParameters* par = format_->streams[i]->codecpar;
      if (par->codec_type != AVMEDIA_TYPE_AUDIO) continue;
      if (par->ch_layout.nb_channels <= 0) fail(name_, "audio stream has zero channels");
      check_rate(par->sample_rate);
    }
    fail(name_, "contains no audio stream");
  }

  void check_rate(int rate) const {
    if (rate < kMinSampleRate || rate > kMaxSampleRate)
      fail(name_, "absurd sample rate " + std::to_string(rate) + " Hz (expected " + std::to_string(kMinSampleRate) +
                      " to " + std::to_string(kMaxSampleRate) + " Hz)");
  }

  void note_error(const char* what, int code) {
    if (code == AVERROR(ENOMEM)) fail(name_, "out of memory while decoding");
    last_error_ = std::string(what) + ": " + av_error_text(code);
  }

  // Receives every frame the decoder has ready.
  void drain(std::vector<std::vector<float>>& planes) {
    for (;;) {
      const int r = avcodec_receive_frame(codec_.get(), frame_.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) {
        note_error("decode failed", r);
        return;
      }
      store(*frame_, planes);
      av_frame_unref(frame_.get());
    }
  }

  void store(const AVFrame& frame, std::vector<std::vector<float>>& planes) {
    const int channels = frame.ch_layout.nb_channels;
    if (out_.sample_rate == 0) {
      check_rate(frame.sample_rate);
      if (channels <= 0) fail(name_, "audio stream has zero channels");
      out_.sample_rate = frame.sample_rate;
      out_.channels = channels;
      // The frame cap is fixed once the rate and channel count are known: the caller's
      // limit, or the hard guard when that is smaller.
      const auto rate = static_cast<double>(frame.sample_rate);
      hard_max_frames_ =
          std::min(static_cast<std::uint64_t>(kMaxSeconds * rate), kMaxSamples / static_cast<std::uint64_t>(channels));
      max_frames_ = hard_max_frames_;
      if (limits_.max_duration_s > 0) {
        const double seconds = std::min(limits_.max_duration_s, kMaxSeconds);
        max_frames_ = std::min(max_frames_, static_cast<std::uint64_t>(seconds * rate));
      }
    } else if (frame.sample_rate != out_.sample_rate || channels != out_.channels) {
      fail(name_, "sample rate or channel count changes mid-stream");
    }
    if (planes.size() != static_cast<std::size_t>(channels)) planes.resize(static_cast<std::size_t>(channels));
    // Checked before appending, so an over-long input never allocates past the cap.
    if (capped_ && total_frames_ + static_cast<std::uint64_t>(frame.nb_samples) > max_frames_) {
      if (max_frames_ < hard_max_frames_)
        throw LimitError(name_ + ": audio is longer than the limit of " + seconds_text(limits_.max_duration_s));
      throw LimitError(name_ + ": audio is too long (more than 4 hours or 2^31 samples)");
    }
    append_frame(frame, channels, name_, planes);
    total_frames_ += static_cast<std::uint64_t>(frame.nb_samples);
  }

  const std::string name_;
  const DecodeLimits limits_;
  // Declaration order is destruction order in reverse: the format context must close
  // before the AVIOContext it reads from is freed.
  IoPtr io_;
  FormatPtr format_;
  CodecPtr codec_;
  PacketPtr packet_;
  FramePtr frame_;
  int stream_index_ = -1;
  bool ended_ = false;
  bool capped_ = true;
  std::uint64_t total_frames_ = 0;
  std::uint64_t max_frames_ = 0;
  std::uint64_t hard_max_frames_ = 0;
  std::string last_error_;
  DecodedAudio out_;
};

// open_audio_stream: the decoder over a source it owns, handing out blocks of frames.
class FfmpegStream final : public AudioStream {
 public:
  FfmpegStream(std::unique_ptr<ByteSource> source, const std::string& name)
      : source_(std::move(source)), decoder_(name, {}) {
    decoder_.set_length_capped(false);  // a stream's memory is one block, whatever its length
    decoder_.open(*source_);
    // Decode up to the first frame, so the rate and channel count are the decoded ones.
    while (decoder_.total_frames() == 0 && decoder_.step(pending_)) {}
    if (decoder_.total_frames() == 0) decoder_.fail_no_audio();
  }

  int sample_rate() const override { return decoder_.info().sample_rate; }
  int channels() const override { return decoder_.info().channels; }
  std::string codec() const override { return decoder_.info().codec; }
  double duration_hint_s() const override { return decoder_.duration_hint_s(); }
  std::string creation_time() const override { return decoder_.creation_time(); }

  std::size_t read(std::vector<std::vector<float>>& planes, std::size_t max_frames) override {
    if (max_frames == 0) return 0;
    while (pending_frames() < max_frames && decoder_.step(pending_)) {}
    const std::size_t n = std::min(max_frames, pending_frames());
    planes.resize(pending_.size());
    for (std::size_t c = 0; c < pending_.size(); ++c) {
      auto& from = pending_[c];
      planes[c].insert(planes[c].end(), from.begin(), from.begin() + static_cast<std::ptrdiff_t>(n));
      from.erase(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(n));
    }
    return n;
  }

 private:
  std::size_t pending_frames() const { return pending_.empty() ? 0 : pending_.front().size(); }

  std::unique_ptr<ByteSource> source_;  // outlives decoder_ (declared first, destroyed last)
  Decoder decoder_;
  std::vector<std::vector<float>> pending_;
};

void check_limits(const DecodeLimits& limits) {
  if (!(limits.max_duration_s >= 0.0))  // also rejects NaN
    throw ConfigError("DecodeLimits::max_duration_s must be >= 0 (0 = no limit)");
}

// A regular, non-empty file as a byte source.
std::unique_ptr<ByteSource> open_file_source(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) fail(path, "no such file");
  if (fs::is_directory(st)) fail(path, "is a directory, not an audio file");
  // A FIFO or device could block or never end; uploads and recordings are regular files.
  if (!fs::is_regular_file(st)) fail(path, "is not a regular file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(path, "cannot open (" + std::generic_category().message(errno) + ")");
  const std::uintmax_t size = fs::file_size(path, ec);
  auto source = std::make_unique<FileSource>(f, ec ? -1 : static_cast<std::int64_t>(size));  // owns f from here
  if (size == 0) fail(path, "file is empty");
  return source;
}

}  // namespace

DecodedAudio ffmpeg_decode_file(const std::string& path, const DecodeLimits& limits) {
  check_limits(limits);
  quiet_ffmpeg_logging();
  const auto source = open_file_source(path);
  return Decoder(path, limits).run(*source);
}

std::unique_ptr<AudioStream> ffmpeg_open_stream_file(const std::string& path) {
  quiet_ffmpeg_logging();
  return std::make_unique<FfmpegStream>(open_file_source(path), path);
}

std::unique_ptr<AudioStream> ffmpeg_open_stream_memory(std::span<const std::uint8_t> bytes, const std::string& name) {
  quiet_ffmpeg_logging();
  if (bytes.empty()) fail(name, "file is empty");
  return std::make_unique<FfmpegStream>(std::make_unique<MemorySource>(bytes), name);
}

DecodedAudio ffmpeg_decode_memory(std::span<const std::uint8_t> bytes, const std::string& name,
                                  const DecodeLimits& limits) {
  check_limits(limits);
  quiet_ffmpeg_logging();
  if (bytes.empty()) fail(name, "file is empty");
  MemorySource source(bytes);
  return Decoder(name, limits).run(source);
}

}  // namespace coughkit::audio

extern "C" __attribute__((visibility("default"))) const void* coughkit_ffmpeg_decoder_backend() {
  static const coughkit::audio::DecoderBackend backend{
      coughkit::audio::kDecoderBackendAbi, &coughkit::audio::ffmpeg_decode_file, &coughkit::audio::ffmpeg_decode_memory,
      &coughkit::audio::ffmpeg_open_stream_file, &coughkit::audio::ffmpeg_open_stream_memory};
  return &backend;
}
