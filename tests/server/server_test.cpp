// `coughkit serve` as clients see it: the real binary on a loopback port, every route and
// error path, limits, overload, slow and malformed clients, concurrency and shutdown.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <future>
#include <mutex>
#include <set>
#include <sstream>

#include <chrono>
#include <thread>

#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/fixtures.h"
#include "server_process.h"
#include "support/run_cli.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

using nlohmann::json;
using testing::RawConnection;
using testing::ServerProcess;

std::string model_path() { return (testing::model_fixture_dir() / "attnmil_op14_bn.onnx").string(); }
std::filesystem::path ref_audio(const std::string& name) { return testing::reference_dir() / "audio" / name; }
std::string audio_bytes(const std::string& name) { return testing::file_contents(ref_audio(name)); }

// Every server runs the engine on one thread: the suite shares 2 cores.
std::vector<std::string> base_args(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--model", model_path(), "--threads", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::unique_ptr<ServerProcess> start(const std::string& name, std::vector<std::string> extra = {},
                                     std::vector<std::pair<std::string, std::string>> env = {}) {
  auto dir = testing::testdata_dir() / "server_logs";
  std::filesystem::create_directories(dir);
  auto server = std::make_unique<ServerProcess>(base_args(std::move(extra)), dir / (name + ".log"), std::move(env));
  EXPECT_TRUE(server->wait_ready()) << server->log();
  return server;
}

httplib::MultipartFormDataItems audio_form(const std::string& clip, const std::string& threshold = "") {
  httplib::MultipartFormDataItems items = {{"audio", audio_bytes(clip), clip, "application/octet-stream"}};
  if (!threshold.empty()) items.push_back({"threshold", threshold, "", ""});
  return items;
}

json parse(const httplib::Result& res) {
  if (!res) return json();
  return json::parse(res->body, nullptr, false);
}

// `coughkit detect --json --threads 1` on clips: file name -> its object.
std::map<std::string, json> cli_detect(const std::vector<std::string>& clips) {
  std::string args = "--log-level warn detect --json --threads 1 --model " + testing::quoted(model_path());
  for (const auto& c : clips) args += " " + testing::quoted(ref_audio(c));
  const auto r = testing::run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::map<std::string, json> out;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.front() == '{') {
      auto j = json::parse(line);
      out[std::filesystem::path(j["file"].get<std::string>()).filename().string()] = j;
    }
  return out;
}

// The server's answer equals the CLI's: exactly for one-bag batches; concurrent requests
// may be batched with others (padded + masked), which moves probabilities by < 1e-5.
void expect_same_detection(const json& got, const json& want, double tol) {
  ASSERT_TRUE(got.is_object()) << got;
  EXPECT_EQ(got["num_segments"], want["num_segments"]);
  EXPECT_EQ(got["total_segments"], want["total_segments"]);
  EXPECT_EQ(got["segment_timestamps"], want["segment_timestamps"]);
  EXPECT_EQ(got["cough_detected"], want["cough_detected"]);
  EXPECT_DOUBLE_EQ(got["duration_s"].get<double>(), want["duration_s"].get<double>());
  EXPECT_NEAR(got["bag_probability"].get<double>(), want["bag_probability"].get<double>(), tol);
  EXPECT_NEAR(got["bag_logit"].get<double>(), want["bag_logit"].get<double>(), tol * 100);
  ASSERT_EQ(got["segment_probabilities"].size(), want["segment_probabilities"].size());
  for (std::size_t i = 0; i < got["segment_probabilities"].size(); ++i)
    EXPECT_NEAR(got["segment_probabilities"][i].get<double>(), want["segment_probabilities"][i].get<double>(), tol);
}

void expect_envelope(const httplib::Result& res, int status, const std::string& code) {
  ASSERT_TRUE(res) << "no response";
  EXPECT_EQ(res->status, status) << res->body;
  const auto j = json::parse(res->body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << res->body;
  ASSERT_TRUE(j.contains("error") && j["error"].is_object()) << res->body;
  EXPECT_EQ(j["error"]["code"], code) << res->body;
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
}

// One server for the routes that need no special flags.
class Server : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = start("shared").release(); }
  static void TearDownTestSuite() {
    if (server_) {
      EXPECT_EQ(server_->stop(), 0) << server_->log();
    }
    delete server_;
    server_ = nullptr;
  }
  static ServerProcess* server_;
};
ServerProcess* Server::server_ = nullptr;

TEST_F(Server, HealthIndexModelAndMetrics) {
  auto c = server_->client();
  auto res = c.Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto j = parse(res);
  EXPECT_EQ(j["status"], "healthy");
  EXPECT_EQ(j["model_loaded"], true);
  EXPECT_EQ(j["model_type"], "AttnMILResNet");
  EXPECT_TRUE(j.contains("validation_auc"));
  EXPECT_FALSE(res->get_header_value("X-Request-Id").empty());
  res = c.Get("/health/ready");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = c.Get("/health/live");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(parse(res)["status"], "alive");

  res = c.Get("/");  // an API client gets JSON
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(parse(res).contains("endpoints")) << res->body;
  res = c.Get("/", {{"Accept", "text/html,application/xhtml+xml"}});  // a browser gets the page
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(res->body.find("api/detect-cough"), std::string::npos);
  EXPECT_NE(res->body.find("MediaRecorder"), std::string::npos);
  EXPECT_EQ(res->body.find("https://"), std::string::npos) << "the page must not load anything from outside";

  res = c.Get("/v1/model");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  j = parse(res);
  EXPECT_EQ(j["model_file"], "attnmil_op14_bn.onnx");
  EXPECT_EQ(j["model_type"], "AttnMILResNet");
  EXPECT_DOUBLE_EQ(j["threshold"].get<double>(), 0.61);
  EXPECT_EQ(j["preprocessing"]["sample_rate"], 16000);
  EXPECT_EQ(j["preprocessing"]["max_segments"], 32);
  EXPECT_EQ(j["engine"]["threads"], 1);

  ASSERT_TRUE(c.Post("/v1/detect", audio_bytes("wav_s16_11k_stereo_cough_2s.wav"), "audio/wav"));
  // A request is counted when its handler finishes, which may be just after the client has
  // its response: poll briefly for the detect request to show up.
  const std::string detect_line = "coughkit_http_requests_total{route=\"/v1/detect\",method=\"POST\",status=\"200\"}";
  for (int attempt = 0; attempt < 50; ++attempt) {
    res = c.Get("/metrics");
    if (!res || res->body.find(detect_line) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  const std::string& m = res->body;
  for (const char* name : {"coughkit_http_requests_total", "coughkit_http_request_duration_seconds",
                           "coughkit_http_requests_in_flight", "coughkit_audio_seconds_total",
                           "coughkit_segments_total", "coughkit_model_load_seconds", "coughkit_inference_batch_bags"}) {
    EXPECT_NE(m.find(std::string("# HELP ") + name + " "), std::string::npos) << name;
    EXPECT_NE(m.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
  }
  EXPECT_NE(m.find("coughkit_http_requests_total{route=\"/v1/detect\",method=\"POST\",status=\"200\"}"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("coughkit_http_request_duration_seconds_bucket{route=\"/v1/detect\",le=\"+Inf\"}"),
            std::string::npos);
  EXPECT_EQ(m.find("coughkit_segments_total 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("coughkit_model_loaded 1\n"), std::string::npos) << m;
  // Names without colons, every sample line preceded by its family's TYPE.
  std::istringstream lines(m);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] != '#') {
      EXPECT_EQ(line.substr(0, line.find_first_of("{ ")).find(':'), std::string::npos) << line;
    }
}

TEST_F(Server, LegacyDetectCoughKeepsTheReferenceShape) {
  auto c = server_->client();
  // threshold 0 as a form field: any probability is above it.
  auto res = c.Post("/api/detect-cough", audio_form("webm_opus_48k_mono_cough.webm", "0"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  auto j = parse(res);
  for (const char* key : {"coughDetected", "confidence", "file_probability", "segment_probabilities",
                          "segment_timestamps", "num_segments", "threshold_used", "max_segment_probability",
                          "mean_segment_probability", "message", "model_info"})
    EXPECT_TRUE(j.contains(key)) << key << " in " << res->body;
  EXPECT_EQ(j["coughDetected"], true);
  EXPECT_EQ(j["message"], "Cough detected");
  EXPECT_FALSE(j.contains("error"));
  EXPECT_DOUBLE_EQ(j["threshold_used"].get<double>(), 0.0);
  EXPECT_EQ(j["confidence"], j["file_probability"]);
  EXPECT_EQ(j["segment_probabilities"].size(), j["num_segments"].get<std::size_t>());
  ASSERT_EQ(j["segment_timestamps"].size(), j["num_segments"].get<std::size_t>());
  EXPECT_EQ(j["segment_timestamps"][0], json::array({0.0, 2.0}));
  EXPECT_EQ(j["model_info"]["model_file"], "attnmil_op14_bn.onnx");
  EXPECT_EQ(j["model_info"]["model_type"], "AttnMILResNet");
  EXPECT_TRUE(j["model_info"].contains("validation_auc"));

  // The same clip via the CLI: same probabilities.
  const auto want = cli_detect({"webm_opus_48k_mono_cough.webm"}).at("webm_opus_48k_mono_cough.webm");
  EXPECT_EQ(j["confidence"], want["bag_probability"]);
  EXPECT_EQ(j["segment_probabilities"], want["segment_probabilities"]);

  // threshold 1 in the query: nothing is above it -> "error" key, status 200, as the reference did.
  res = c.Post("/api/detect-cough?threshold=1", audio_form("webm_opus_48k_mono_cough.webm"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  j = parse(res);
  EXPECT_EQ(j["coughDetected"], false);
  EXPECT_EQ(j["message"], "No cough detected");
  EXPECT_EQ(j["error"], "No cough pattern detected by model");
  EXPECT_DOUBLE_EQ(j["threshold_used"].get<double>(), 1.0);

  // Without a threshold, the model's own; this fixture carries none, so the reference's 0.61.
  res = c.Post("/api/detect-cough", audio_form("wav_s16_16k_mono_silence.wav"));
  ASSERT_TRUE(res);
  EXPECT_DOUBLE_EQ(parse(res)["threshold_used"].get<double>(), 0.61);
  EXPECT_EQ(parse(res)["truncated"], false);
}

// A long upload is scored on its first 32 segments, and the legacy answer now says so.
TEST_F(Server, LegacyDetectCoughSaysWhenTheBagIsTruncated) {
  auto c = server_->client();
  auto res = c.Post("/api/detect-cough", audio_form("mp3_22k_mono_long_60s.mp3"));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto j = parse(res);
  EXPECT_EQ(j["num_segments"], 32);
  EXPECT_EQ(j["segment_probabilities"].size(), 32u);
  EXPECT_GT(j["total_segments"].get<int>(), 100);  // 60 s: 117 full windows
  EXPECT_EQ(j["truncated"], true);
  res = c.Post("/api/detect-cough", audio_form("wav_s16_11k_stereo_cough_2s.wav"));
  ASSERT_TRUE(res);
  EXPECT_EQ(parse(res)["total_segments"], parse(res)["num_segments"]);
  EXPECT_EQ(parse(res)["truncated"], false);
}

TEST_F(Server, LegacyDetectCoughErrors) {
  auto c = server_->client();
  // No `audio` part.
  auto res = c.Post("/api/detect-cough", httplib::MultipartFormDataItems{{"file", "xyz", "a.wav", "audio/wav"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(parse(res), json({{"error", "No audio file provided"}}));
  // Not multipart at all.
  res = c.Post("/api/detect-cough", "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(parse(res), json({{"error", "No audio file provided"}}));
  // Undecodable audio: 422 with the reason (the reference answered 500).
  res = c.Post("/api/detect-cough",
               httplib::MultipartFormDataItems{{"audio", "this is not audio at all", "note.webm", "audio/webm"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  auto j = parse(res);
  ASSERT_TRUE(j["error"].is_string()) << res->body;
  EXPECT_NE(j["error"].get<std::string>().find("note.webm"), std::string::npos) << res->body;
  // Truncated container.
  const std::string webm = audio_bytes("webm_opus_48k_stereo_2s.webm");
  res = c.Post("/api/detect-cough",
               httplib::MultipartFormDataItems{{"audio", webm.substr(0, 60), "cut.webm", "audio/webm"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422) << res->body;
  // Bad threshold.
  res = c.Post("/api/detect-cough", audio_form("webm_opus_48k_stereo_2s.webm", "high"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(parse(res)["error"].get<std::string>().find("threshold"), std::string::npos);
  res = c.Post("/api/detect-cough?threshold=1.5", audio_form("webm_opus_48k_stereo_2s.webm"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  // Wrong method.
  expect_envelope(c.Get("/api/detect-cough"), 405, "method_not_allowed");
}

TEST_F(Server, AnalyzeTbIsNotImplemented) {
  auto c = server_->client();
  auto res = c.Post("/api/analyze-tb", audio_form("webm_opus_48k_stereo_2s.webm"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 501);
  const auto j = parse(res);
  ASSERT_TRUE(j["error"].is_string()) << res->body;
  EXPECT_NE(j["error"].get<std::string>().find("tuberculosis"), std::string::npos);
}

TEST_F(Server, V1DetectEqualsTheCliForRawAndMultipartUploads) {
  const std::vector<std::string> clips = {"flac_s16_32k_mono_cough.flac",  "mp3_44k_stereo_cough_hpf.mp3",
                                          "webm_opus_48k_mono_cough.webm", "wav_s16_11k_mono_long_20s.wav",
                                          "m4a_aac_16k_mono_2s.m4a",       "opus_8k_mono_500ms.opus"};
  const auto want = cli_detect(clips);
  auto c = server_->client();
  for (const auto& clip : clips) {
    SCOPED_TRACE(clip);
    auto res = c.Post("/v1/detect", audio_bytes(clip), "application/octet-stream");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    auto got = parse(res);
    EXPECT_EQ(got["file"], "upload");
    got["file"] = want.at(clip)["file"];
    EXPECT_EQ(got, want.at(clip));  // one request alone is one batch of one: bit-identical

    res = c.Post("/v1/detect?threshold=0.25",
                 httplib::MultipartFormDataItems{{"audio", audio_bytes(clip), "dir/" + clip, ""}});
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    got = parse(res);
    EXPECT_EQ(got["file"], clip);  // the upload's name, without any path
    EXPECT_DOUBLE_EQ(got["threshold"].get<double>(), 0.25);
    EXPECT_EQ(got["cough_detected"], got["bag_probability"].get<double>() > 0.25);
    expect_same_detection(got, want.at(clip), 0.0);
  }
}

TEST_F(Server, V1ErrorsUseOneEnvelope) {
  auto c = server_->client();
  expect_envelope(c.Post("/v1/detect", "{\"audio\": 1}", "application/json"), 415, "unsupported_media_type");
  expect_envelope(c.Post("/v1/detect", "a=b", "application/x-www-form-urlencoded"), 415, "unsupported_media_type");
  expect_envelope(c.Post("/v1/detect", "hello", "text/plain"), 415, "unsupported_media_type");
  expect_envelope(c.Post("/v1/detect", "", "audio/wav"), 400, "empty_upload");
  expect_envelope(c.Post("/v1/detect", "RIFF....WAVEfmt garbage", "audio/wav"), 422, "invalid_audio");
  expect_envelope(c.Post("/v1/detect", httplib::MultipartFormDataItems{{"other", "x", "x.wav", ""}}), 400,
                  "missing_audio");
  expect_envelope(c.Post("/v1/detect?threshold=-1", audio_bytes("m4a_aac_16k_mono_2s.m4a"), "audio/mp4"), 400,
                  "invalid_threshold");
  expect_envelope(c.Get("/v1/detect"), 405, "method_not_allowed");
  expect_envelope(c.Get("/no/such/route"), 404, "not_found");
  expect_envelope(c.Post("/v1/nothing", "x", "audio/wav"), 404, "not_found");
  expect_envelope(c.Delete("/health"), 405, "method_not_allowed");
  // No CORS headers unless configured.
  auto res = c.Get("/health", {{"Origin", "http://example.test"}});
  ASSERT_TRUE(res);
  EXPECT_FALSE(res->has_header("Access-Control-Allow-Origin"));
}

TEST_F(Server, MalformedRequestsGetJsonErrorsAndTheServerCarriesOn) {
  // A multipart body whose part has no headers and no closing boundary.
  {
    RawConnection conn(server_->port());
    ASSERT_TRUE(conn.connected());
    const std::string body = "--XYZ\r\ngarbage without part headers\r\n\r\nmore";
    conn.send_all(
        "POST /api/detect-cough HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body);
    const auto response = conn.read_all();
    EXPECT_EQ(testing::status_of(response), 400) << response;
    const auto j = json::parse(testing::body_of(response), nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error")) << response;
  }
  // Multipart without a boundary.
  {
    RawConnection conn(server_->port());
    conn.send_all(
        "POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: multipart/form-data\r\nContent-Length: 4\r\n\r\nabcd");
    const auto response = conn.read_all();
    EXPECT_EQ(testing::status_of(response), 400) << response;
  }
  // Not HTTP at all.
  {
    RawConnection conn(server_->port());
    conn.send_all("HELLO THERE\r\n\r\n");
    const auto response = conn.read_all();
    EXPECT_EQ(testing::status_of(response), 400) << response;
  }
  // A lying Content-Length (a shorter body, then the client hangs up).
  {
    RawConnection conn(server_->port());
    conn.send_all(
        "POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\nContent-Length: 1000\r\n\r\nRIFF");
  }
  auto c = server_->client();
  auto res = c.Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(Server, ThirtyMegabyteBodyIs413) {
  const std::string big(30u * 1024 * 1024, 'x');
  // Raw body with a Content-Length: refused from the headers, before the body is read.
  {
    RawConnection conn(server_->port());
    ASSERT_TRUE(conn.connected());
    conn.send_all(
        "POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: " +
        std::to_string(big.size()) + "\r\n\r\n");
    const auto response = conn.read_response();
    EXPECT_EQ(testing::status_of(response), 413) << response.substr(0, 300);
    const auto j = json::parse(testing::body_of(response), nullptr, false);
    EXPECT_TRUE(j.is_object() && j["error"].is_object()) << response;
  }
  // The same through a client that sends the whole body (multipart, legacy route).
  auto c = server_->client();
  auto res = c.Post("/api/detect-cough", httplib::MultipartFormDataItems{{"audio", big, "big.webm", "audio/webm"}});
  if (res) {  // else: the server closed the connection while the body was still being sent
    EXPECT_EQ(res->status, 413) << res->body.substr(0, 300);
  }
  // Chunked (no Content-Length): stopped once the limit is passed.
  res = c.Post(
      "/v1/detect",
      [&](std::size_t offset, httplib::DataSink& sink) {
        const std::size_t n = std::min<std::size_t>(1 << 20, big.size() - offset);
        sink.write(big.data() + offset, n);
        if (offset + n == big.size()) sink.done();
        return true;
      },
      "application/octet-stream");
  if (res) {
    EXPECT_EQ(res->status, 413);
  }
  res = server_->client().Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(Server, SlowClientIsCutOffWithoutBlockingOthers) {
  RawConnection slow(server_->port());
  ASSERT_TRUE(slow.connected());
  slow.send_all("POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // ... and nothing more
  const auto t0 = std::chrono::steady_clock::now();
  auto res = server_->client().Get("/health");  // others are served meanwhile
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
  const auto rest = slow.read_all();  // the server gives up after its read timeout (5 s) and closes
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(waited, 20.0);
  EXPECT_TRUE(rest.empty() || testing::status_of(rest) >= 400) << rest;
}

// A metric's value from /metrics ("name{labels}" exactly as rendered); -1 when absent.
double metric(ServerProcess& server, const std::string& sample) {
  auto res = server.client(5).Get("/metrics");
  if (!res) return -1;
  const auto at = res->body.find("\n" + sample + " ");
  if (at == std::string::npos) return -1;
  return std::stod(res->body.substr(at + sample.size() + 2));
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The slowloris that used to take the service down: hundreds of connections from one host,
// each dripping a header line a second. Beyond the per-client cap they are answered 503 at
// once; the admitted ones are cut off at the header deadline; meanwhile /health and a real
// detection from another client are answered within a second or two.
TEST(ServerSlowClients, HundredsOfSlowConnectionsFromOneHostDoNotTakeTheServiceDown) {
  auto server = start("slowloris", {"--header-timeout", "4"});
  ASSERT_TRUE(server);
  constexpr int kSlow = 300;
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<RawConnection>(server->port(), "127.0.0.2"));
    slow.back()->send_all("POST /v1/detect HTTP/1.1\r\n");
  }
  std::atomic<bool> dripping{true};
  std::thread drip([&] {  // one more header line a second on every connection still open
    for (int line = 0; dripping; ++line) {
      for (auto& c : slow) c->send_all("X-Slow-" + std::to_string(line) + ": 1\r\n");
      for (int i = 0; i < 10 && dripping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  auto t0 = std::chrono::steady_clock::now();
  auto c = server->client(10);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_LT(seconds_since(t0), 2.0);
  t0 = std::chrono::steady_clock::now();
  auto res = c.Post("/v1/detect", audio_bytes("wav_s16_11k_stereo_cough_2s.wav"), "audio/wav");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  const double detect_s = seconds_since(t0);
  EXPECT_LT(detect_s, 5.0);

  // At most 32 (the per-client cap) held at once, the rest refused with a 503 at once.
  EXPECT_LE(metric(*server, "coughkit_http_connections_open"), 32 + 2);  // + this client's two
  int refused = 0;
  for (auto& s : slow) {
    if (!s->answered_within(0)) continue;
    const auto answer = s->read_response();
    if (testing::status_of(answer) == 503) ++refused;
  }
  EXPECT_GE(refused, kSlow - 32);
  EXPECT_GE(metric(*server, "coughkit_http_connections_refused_total{reason=\"per_client_limit\"}"), kSlow - 32);

  // The admitted ones hit the 4-s header deadline although they keep sending: every one of
  // the 300 has ended.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  dripping = false;
  drip.join();
  int ended = 0;
  for (auto& s : slow) ended += s->answered_within(0) ? 1 : 0;
  EXPECT_EQ(ended, kSlow);
  EXPECT_GE(metric(*server, "coughkit_http_request_read_timeouts_total{phase=\"headers\"}"), 32);
  std::printf(
      "[slowloris] %d slow connections from one host: %d refused at once; /health and a detection (%.2f s) "
      "answered meanwhile\n",
      kSlow, refused, detect_s);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

// Connections from many hosts fill --max-connections: the next ones are refused at once
// (503, counted), never queued; once the header deadline frees the slots the server serves.
// A body that trickles in below --min-upload-rate is cut off after the grace.
TEST(ServerSlowClients, FullServerRefusesAtOnceAndSlowBodiesAreCutOff) {
  auto server =
      start("full", {"--max-connections", "20", "--max-connections-per-client", "4", "--header-timeout", "2"});
  ASSERT_TRUE(server);
  // Five hosts hold four connections each. The readiness probe's connection may still count
  // for a moment after start(), so a held one refused meanwhile is opened again until all 20
  // are held (each one's 2-s header deadline starts when its first bytes arrive).
  std::vector<std::unique_ptr<RawConnection>> held(20);
  const auto hold_from = [&](std::size_t i) {
    const std::string from = "127.0.0." + std::to_string(10 + i / 4);
    held[i] = std::make_unique<RawConnection>(server->port(), from.c_str());
    ASSERT_TRUE(held[i]->connected());
    held[i]->send_all("GET /health HTTP/1.1\r\n");
  };
  for (std::size_t i = 0; i < held.size(); ++i) hold_from(i);
  for (int round = 0; round < 10; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int reopened = 0;
    for (std::size_t i = 0; i < held.size(); ++i)
      if (held[i]->answered_within(0)) {
        hold_from(i);
        ++reopened;
      }
    if (reopened == 0) break;
  }
  const auto t0 = std::chrono::steady_clock::now();
  RawConnection extra(server->port(), "127.0.0.99");
  ASSERT_TRUE(extra.connected());
  extra.send_all("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto answer = extra.read_response();
  EXPECT_LT(seconds_since(t0), 1.0);
  EXPECT_EQ(testing::status_of(answer), 503) << answer;
  EXPECT_NE(answer.find("too_many_connections"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;

  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the held ones time out
  held.clear();
  auto health = server->client(5).Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_GE(metric(*server, "coughkit_http_connections_refused_total{reason=\"server_full\"}"), 1);

  // Headers in time, then a 100 kB body at a few bytes a second: cut off after the 2-s grace.
  RawConnection trickle(server->port());
  trickle.send_all(
      "POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nContent-Length: 100000\r\n\r\nRIFF");
  const auto t1 = std::chrono::steady_clock::now();
  bool closed = false;
  for (int i = 0; i < 20 && !closed; ++i) {
    trickle.send_all("x");
    closed = trickle.answered_within(0.5);
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(seconds_since(t1), 6.0);
  // The connection's thread counts the timeout after the library has answered: wait for it.
  double body_timeouts = 0;
  for (int i = 0; i < 50 && body_timeouts < 1; ++i) {
    body_timeouts = metric(*server, "coughkit_http_request_read_timeouts_total{phase=\"body\"}");
    if (body_timeouts < 1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(body_timeouts, 1);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

TEST_F(Server, EightClientsTimesFiftyRequestsMatchTheCli) {
  const std::vector<std::string> clips = {"wav_s16_11k_stereo_cough_2s.wav", "m4a_aac_16k_mono_2s.m4a",
                                          "mp3_48k_stereo_2s.mp3", "webm_opus_48k_stereo_2s.webm"};
  const auto want = cli_detect(clips);
  std::vector<std::string> bodies;
  for (const auto& c : clips) bodies.push_back(audio_bytes(c));
  int per_client = 50;
  if (const char* env = std::getenv("COUGHKIT_SERVER_TEST_REQUESTS")) per_client = std::max(1, std::atoi(env));
  constexpr int kClients = 8;
  std::atomic<int> ok{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  const auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < kClients; ++t)
    threads.emplace_back([&, t] {
      auto c = server_->client();
      for (int i = 0; i < per_client; ++i) {
        const std::size_t k = static_cast<std::size_t>(t + i) % clips.size();
        auto res = (i % 2) ? c.Post("/v1/detect", bodies[k], "application/octet-stream")
                           : c.Post("/v1/detect", httplib::MultipartFormDataItems{{"audio", bodies[k], clips[k], ""}});
        std::string why;
        if (!res)
          why = "no response: " + httplib::to_string(res.error());
        else if (res->status != 200)
          why = std::to_string(res->status) + " " + res->body;
        else {
          const auto got = json::parse(res->body, nullptr, false);
          const auto& w = want.at(clips[k]);
          if (got.is_discarded() || got["num_segments"] != w["num_segments"] ||
              got["cough_detected"] != w["cough_detected"] ||
              std::fabs(got["bag_probability"].get<double>() - w["bag_probability"].get<double>()) > 1e-5 ||
              got["segment_probabilities"].size() != w["segment_probabilities"].size())
            why = "differs from the CLI: " + res->body;
          else
            for (std::size_t s = 0; s < got["segment_probabilities"].size(); ++s)
              if (std::fabs(got["segment_probabilities"][s].get<double>() -
                            w["segment_probabilities"][s].get<double>()) > 1e-5)
                why = "segment differs from the CLI: " + res->body;
        }
        if (why.empty())
          ++ok;
        else {
          std::lock_guard lock(failures_mutex);
          failures.push_back(clips[k] + ": " + why);
        }
      }
    });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(ok.load(), kClients * per_client);
  for (std::size_t i = 0; i < std::min<std::size_t>(failures.size(), 5); ++i) ADD_FAILURE() << failures[i];
  const auto metrics = server_->client().Get("/metrics");
  ASSERT_TRUE(metrics);
  std::string batches = "?";
  if (const auto p = metrics->body.find("\ncoughkit_inference_batches_total "); p != std::string::npos)
    batches = metrics->body.substr(p + 34, metrics->body.find('\n', p + 1) - p - 34);
  std::printf("%d requests in %.1f s (%.1f req/s); %s model runs so far\n", kClients * per_client, seconds,
              kClients * per_client / seconds, batches.c_str());
  RecordProperty("requests_per_second", std::to_string(kClients * per_client / seconds));
}

// --- servers with their own flags -------------------------------------------------------

TEST(ServerFlags, OverloadAnswers503WithRetryAfter) {
  // One worker, no queue: while one long clip is processed the others are refused.
  auto server = start("overload", {"--workers", "1", "--queue-limit", "0"});
  const std::string body = audio_bytes("mp3_22k_mono_long_60s.mp3");
  std::vector<std::future<std::pair<int, std::string>>> results;
  for (int i = 0; i < 6; ++i)
    results.push_back(std::async(std::launch::async, [&] {
      auto res = server->client().Post("/v1/detect", body, "audio/mpeg");
      if (!res) return std::make_pair(-1, std::string());
      return std::make_pair(res->status, res->get_header_value("Retry-After") + "|" + res->body);
    }));
  int ok = 0, busy = 0;
  for (auto& f : results) {
    const auto [status, text] = f.get();
    if (status == 200)
      ++ok;
    else if (status == 503) {
      ++busy;
      EXPECT_EQ(text.substr(0, text.find('|')), "1") << text;
      EXPECT_NE(text.find("\"overloaded\""), std::string::npos) << text;
    } else
      ADD_FAILURE() << status << " " << text;
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1);
  auto metrics = server->client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("coughkit_http_rejected_total{reason=\"overloaded\"}"), std::string::npos);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

TEST(ServerFlags, AudioDurationAndUploadLimits) {
  auto server = start("limits", {"--max-audio-seconds", "5", "--max-upload-mb", "0.6"});
  auto c = server->client();
  auto res = c.Post("/v1/detect", audio_bytes("mp3_22k_mono_long_60s.mp3"), "audio/mpeg");  // 60 s, 0.48 MB
  expect_envelope(res, 413, "audio_too_long");
  res = c.Post("/api/detect-cough", audio_form("wav_s16_11k_mono_long_20s.wav"));  // 20 s, 0.44 MB
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  ASSERT_TRUE(parse(res)["error"].is_string()) << res->body;  // the legacy shape
  EXPECT_NE(parse(res)["error"].get<std::string>().find("limit"), std::string::npos) << res->body;
  res = c.Post("/api/detect-cough", audio_form("wav_s16_44k_6ch_cough.wav"));  // 3.3 s, 1.7 MB > 0.6 MB
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  ASSERT_TRUE(parse(res)["error"].is_string()) << res->body;
  expect_envelope(c.Post("/v1/detect", audio_bytes("wav_s16_44k_6ch_cough.wav"), "audio/wav"), 413,
                  "payload_too_large");
  res = c.Post("/v1/detect", audio_bytes("webm_opus_48k_stereo_2s.webm"), "audio/webm");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

TEST(ServerFlags, CorsSaveUploadsAndEnvironmentVariables) {
  const auto dir = testing::scratch_dir();
  // The model, the CORS origin and the upload folder come from the environment.
  auto server = std::make_unique<ServerProcess>(
      std::vector<std::string>{"--threads", "1"}, dir / "server.log",
      std::vector<std::pair<std::string, std::string>>{{"COUGHKIT_MODEL", model_path()},
                                                       {"COUGHKIT_CORS_ORIGIN", "http://app.test, http://other.test"},
                                                       {"COUGHKIT_SAVE_UPLOADS", (dir / "uploads").string()}});
  ASSERT_TRUE(server->wait_ready()) << server->log();
  auto c = server->client();
  auto res = c.Post("/v1/detect", audio_bytes("m4a_aac_16k_mono_2s.m4a"), "audio/mp4");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = c.Get("/health", {{"Origin", "http://other.test"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "http://other.test");
  res = c.Get("/health", {{"Origin", "http://evil.test"}});
  ASSERT_TRUE(res);
  EXPECT_FALSE(res->has_header("Access-Control-Allow-Origin"));
  res = c.Options("/api/detect-cough", {{"Origin", "http://app.test"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "http://app.test");
  EXPECT_NE(res->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  std::size_t saved = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "uploads")) {
    ++saved;
    EXPECT_EQ(e.path().extension(), ".bin");  // raw body: no client file name
    EXPECT_EQ(std::filesystem::file_size(e.path()), std::filesystem::file_size(ref_audio("m4a_aac_16k_mono_2s.m4a")));
  }
  EXPECT_EQ(saved, 1u);
  EXPECT_EQ(server->stop(SIGINT), 0);
  // Structured access log: one line per request with method, path, status, bytes, ms, id.
  const auto log = server->log();
  EXPECT_NE(log.find("access method=POST path=/v1/detect status=200 bytes="), std::string::npos) << log;
  EXPECT_NE(log.find(" ms="), std::string::npos);
  EXPECT_NE(log.find(" id="), std::string::npos);
}

TEST(ServerFlags, GracefulShutdownFinishesInFlightRequests) {
  auto server = start("shutdown");
  const std::string body = audio_bytes("mp3_22k_mono_long_60s.mp3");  // 32 segments: ~1 s of inference
  auto inflight = std::async(std::launch::async, [&] {
    auto res = server->client().Post("/v1/detect", body, "audio/mpeg");
    return res ? res->status : -1;
  });
  // Wait until the request is being handled, then ask the server to stop.
  for (int i = 0; i < 500; ++i) {
    auto m = server->client(2).Get("/metrics");
    if (m && m->body.find("coughkit_http_requests_in_flight 2") != std::string::npos) break;  // it and /metrics
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(server->pid(), SIGTERM);
  EXPECT_EQ(inflight.get(), 200);
  EXPECT_EQ(server->wait_exit(60), 0) << server->log();
  EXPECT_NE(server->log().find("shutting down"), std::string::npos);
  EXPECT_FALSE(server->client(2).Get("/health"));  // nobody listens any more
}

TEST(ServerFlags, RoutesAnswer503UntilTheModelIsLoaded) {
  const auto dir = testing::scratch_dir();
  ServerProcess server(base_args(), dir / "server.log");
  // The port is bound before the model loads: poll from the start; every answer is either
  // "loading" (503, /health 503 too, /health/live 200) or the real one.
  bool saw_loading = false;
  for (int i = 0; i < 4000; ++i) {
    auto c = server.client(5);
    auto model = c.Get("/v1/model");
    if (!model) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    if (model->status == 503) {
      saw_loading = true;
      const auto j = json::parse(model->body);
      EXPECT_EQ(j["error"]["code"], "loading");
      EXPECT_EQ(model->get_header_value("Retry-After"), "1");
      auto legacy = c.Post("/api/detect-cough", audio_form("webm_opus_48k_stereo_2s.webm"));
      ASSERT_TRUE(legacy);
      if (legacy->status == 503) {
        EXPECT_EQ(parse(legacy), json({{"error", "Model not loaded"}}));
      }
      auto live = c.Get("/health/live");
      ASSERT_TRUE(live);
      EXPECT_EQ(live->status, 200);
      continue;
    }
    EXPECT_EQ(model->status, 200);
    break;
  }
  std::printf("saw the loading state: %s\n", saw_loading ? "yes" : "no (the model loaded before the first request)");
  EXPECT_EQ(server.stop(), 0);
}

// Readiness with a model that takes as long as the test wants to load: the model file is a
// FIFO, so loading blocks until the test writes the model into it. Until then /health (and
// /health/ready) answer 503 and /health/live 200; afterwards all three 200.
TEST(ServerFlags, ReadinessIs503UntilASlowModelHasLoaded) {
  const auto dir = testing::scratch_dir();
  const auto fifo = dir / "slow_model.onnx";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ServerProcess server({"--model", fifo.string(), "--threads", "1"}, dir / "server.log");
  int seen_503 = 0;
  for (int i = 0; i < 200 && seen_503 < 3; ++i) {
    auto c = server.client(5);
    auto ready = c.Get("/health");
    if (!ready) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    ASSERT_EQ(ready->status, 503) << ready->body;
    EXPECT_EQ(parse(ready)["status"], "loading");
    EXPECT_EQ(parse(ready)["model_loaded"], false);
    EXPECT_EQ(ready->get_header_value("Retry-After"), "1");
    auto ready2 = c.Get("/health/ready");
    ASSERT_TRUE(ready2);
    EXPECT_EQ(ready2->status, 503);
    auto live = c.Get("/health/live");
    ASSERT_TRUE(live);
    EXPECT_EQ(live->status, 200);
    EXPECT_EQ(parse(live)["model_loaded"], false);
    ++seen_503;
  }
  ASSERT_EQ(seen_503, 3) << server.log();
  {
    std::ofstream writer(fifo, std::ios::binary);  // unblocks the server's read
    writer << testing::file_contents(model_path());
  }
  ASSERT_TRUE(server.wait_ready()) << server.log();
  auto c = server.client();
  EXPECT_EQ(c.Get("/health")->status, 200);
  EXPECT_EQ(c.Get("/health/ready")->status, 200);
  EXPECT_EQ(c.Get("/health/live")->status, 200);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServerFlags, BadModelExits3AndBadFlagsExit2) {
  const auto dir = testing::scratch_dir();
  ServerProcess bad_model({"--model", "/nonexistent/model.onnx"}, dir / "bad_model.log");
  EXPECT_EQ(bad_model.wait_exit(60), 3) << bad_model.log();
  EXPECT_NE(bad_model.log().find("/nonexistent/model.onnx"), std::string::npos) << bad_model.log();

  auto r = testing::run_cli("serve --model " + testing::quoted(model_path()) + " --port 70000");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--port"), std::string::npos) << r.output;
  r = testing::run_cli("serve --model " + testing::quoted(model_path()) +
                       " --max-connections 8 --max-connections-per-client 9");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--max-connections-per-client"), std::string::npos) << r.output;
  r = testing::run_cli("serve --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--max-upload-mb", "--max-audio-seconds", "--queue-limit", "--save-uploads", "--cors-origin",
        "--max-connections", "--max-connections-per-client", "--header-timeout", "--min-upload-rate", "COUGHKIT_PORT"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
}

// Like detect, serve without --model runs the bundled default model (found relative to the binary).
TEST(ServerFlags, WithoutModelServesTheBundledDefault) {
  if (!std::filesystem::exists(testing::cli_path().parent_path() / ".." / ".." / "models" / "coughkit_default.onnx"))
    GTEST_SKIP() << "no models/coughkit_default.onnx beside this build";
  const auto dir = testing::scratch_dir();
  ServerProcess server({"--threads", "1"}, dir / "default_model.log");
  ASSERT_TRUE(server.wait_ready()) << server.log();
  auto c = server.client();
  const auto model = parse(c.Get("/v1/model"));
  EXPECT_EQ(model.value("model_file", ""), "coughkit_default.onnx") << model.dump();
  const auto res = c.Post("/v1/detect", audio_bytes("wav_s16_16k_mono_silence.wav"), "application/octet-stream");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(server.stop(), 0);
}

// The seed system's mobile app posts `audio` as "cough.wav" (really WebM/Opus) without a
// threshold. The legacy route, the v1 route and `coughkit detect` must give that file the same
// verdict with the model's own threshold (the default model carries one; the web page is
// checked the same way by tests/server/web/web_page_test.js).
TEST(ServerFlags, LegacyV1AndCliAgreeOnAWebmNamedWavWithTheModelsThreshold) {
  const auto default_model = testing::source_dir() / "models" / "coughkit_default.onnx";
  ASSERT_TRUE(std::filesystem::exists(default_model));
  const auto dir = testing::scratch_dir();
  const auto clip = dir / "cough.wav";
  std::filesystem::copy_file(ref_audio("webm_opus_48k_mono_cough.webm"), clip);
  ServerProcess server({"--model", default_model.string(), "--threads", "1"}, dir / "server.log");
  ASSERT_TRUE(server.wait_ready()) << server.log();
  auto c = server.client();
  const double model_threshold = parse(c.Get("/v1/model"))["threshold"].get<double>();
  EXPECT_NE(model_threshold, 0.61) << "the default model carries its own threshold";

  const std::string bytes = testing::file_contents(clip);
  auto legacy =
      c.Post("/api/detect-cough", httplib::MultipartFormDataItems{{"audio", bytes, "cough.wav", "audio/wav"}});
  ASSERT_TRUE(legacy);
  ASSERT_EQ(legacy->status, 200) << legacy->body;
  const auto l = parse(legacy);
  auto v1 = c.Post("/v1/detect", httplib::MultipartFormDataItems{{"audio", bytes, "cough.wav", "audio/wav"}});
  ASSERT_TRUE(v1);
  ASSERT_EQ(v1->status, 200) << v1->body;
  const auto v = parse(v1);
  const auto r = testing::run_cli("--log-level warn detect --json --threads 1 --model " +
                                  testing::quoted(default_model) + " " + testing::quoted(clip));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto cli = json::parse(r.output.substr(r.output.find('{')));

  EXPECT_DOUBLE_EQ(l["threshold_used"].get<double>(), model_threshold);
  EXPECT_DOUBLE_EQ(v["threshold"].get<double>(), model_threshold);
  EXPECT_DOUBLE_EQ(cli["threshold"].get<double>(), model_threshold);
  EXPECT_EQ(l["coughDetected"], cli["cough_detected"]);
  EXPECT_EQ(v["cough_detected"], cli["cough_detected"]);
  EXPECT_EQ(l["confidence"], cli["bag_probability"]);
  EXPECT_EQ(v["bag_probability"], cli["bag_probability"]);
  std::printf("[verdict] cough.wav (WebM/Opus): p=%s threshold=%g cough=%s on legacy, v1 and CLI\n",
              cli["bag_probability"].dump().c_str(), model_threshold, cli["cough_detected"].dump().c_str());
  EXPECT_EQ(server.stop(), 0);
}

// A long recording as a job: 202 + id, progress, the report equal to `coughkit monitor`'s,
// the timeline, short requests answered while it runs, cancel, a full job table (503), and
// results that expire.
TEST(ServerJobs, LifecycleMatchesTheCliAndShortRequestsAreServedMeanwhile) {
  auto server = start("jobs", {"--max-jobs", "2", "--job-ttl", "8"});
  ASSERT_TRUE(server);
  auto c = server->client(30);
  const auto clip = ref_audio("mp3_22k_mono_long_60s.mp3");
  auto res =
      c.Post("/v1/monitor?threshold=0.5&start_time=2026-12-01T23:59:30", testing::file_contents(clip), "audio/mpeg");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  const std::string id = parse(res)["id"];
  EXPECT_EQ(res->get_header_value("Location"), "/v1/jobs/" + id);
  // While it runs, a short detection is answered promptly.
  const auto t0 = std::chrono::steady_clock::now();
  auto short_res = c.Post("/v1/detect", audio_bytes("wav_s16_11k_stereo_cough_2s.wav"), "audio/wav");
  ASSERT_TRUE(short_res);
  EXPECT_EQ(short_res->status, 200);
  const double short_s = seconds_since(t0);
  json job;
  bool saw_running = false;
  for (int i = 0; i < 600; ++i) {
    job = parse(c.Get("/v1/jobs/" + id));
    if (job["state"] == "running") saw_running = true;
    if (job["state"] == "done" || job["state"] == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto done_at = std::chrono::steady_clock::now();
  ASSERT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(job["progress"], 1.0);
  auto svg = c.Get("/v1/jobs/" + id + "/timeline.svg");
  ASSERT_TRUE(svg);
  EXPECT_EQ(svg->status, 200);
  EXPECT_NE(svg->get_header_value("Content-Type").find("image/svg+xml"), std::string::npos);
  EXPECT_NE(svg->body.find("class=\"track\""), std::string::npos);
  std::printf("[jobs] 60-s job done (running seen: %s); a /v1/detect meanwhile took %.2f s\n",
              saw_running ? "yes" : "no", short_s);

  // The table holds two jobs: this one (done, kept) and one more; a third is refused.
  res = c.Post("/v1/monitor", testing::file_contents(clip), "audio/mpeg");
  ASSERT_EQ(res->status, 202);
  const std::string second = parse(res)["id"];
  res = c.Post("/v1/monitor", testing::file_contents(clip), "audio/mpeg");
  expect_envelope(res, 503, "jobs_full");
  EXPECT_FALSE(res->get_header_value("Retry-After").empty());
  // Cancel the second; it is gone and its place free.
  res = c.Delete("/v1/jobs/" + second);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  expect_envelope(c.Get("/v1/jobs/" + second), 404, "job_not_found");
  expect_envelope(c.Get("/v1/jobs/nonsense"), 404, "job_not_found");
  expect_envelope(c.Post("/v1/monitor?hop_seconds=5", testing::file_contents(clip), "audio/mpeg"), 400,
                  "invalid_argument");
  // A failed job says why.
  res = c.Post("/v1/monitor", std::string("not audio at all"), "audio/wav");
  ASSERT_EQ(res->status, 202) << res->body;
  const std::string bad = parse(res)["id"];
  for (int i = 0; i < 100 && parse(c.Get("/v1/jobs/" + bad))["state"] != "failed"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto failed = parse(c.Get("/v1/jobs/" + bad));
  EXPECT_EQ(failed["state"], "failed");
  EXPECT_EQ(failed["error"]["status"], 422);

  // The report equals the command line's on the same file with the same settings.
  const auto& report = job["report"];
  const auto cli = testing::run_cli(
      "--log-level warn monitor --json --track --threads 1 --threshold 0.5 --start-time "
      "2026-12-01T23:59:30 --model " +
      testing::quoted(model_path()) + " " + testing::quoted(clip));
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  const auto want = testing::json_lines(cli.output).at(0);
  ASSERT_EQ(report["track"]["probabilities"].size(), want["track"]["probabilities"].size());
  for (std::size_t i = 0; i < want["track"]["probabilities"].size(); ++i)
    EXPECT_NEAR(report["track"]["probabilities"][i].get<double>(), want["track"]["probabilities"][i].get<double>(),
                1e-5);
  EXPECT_EQ(report["events"].size(), want["events"].size());
  EXPECT_EQ(report["cough_count"], want["cough_count"]);
  EXPECT_EQ(report["hourly"][0]["wall_start"], "2026-12-01T23:59:30");

  // The finished job expires after --job-ttl.
  std::this_thread::sleep_until(done_at + std::chrono::milliseconds(8500));
  expect_envelope(c.Get("/v1/jobs/" + id), 404, "job_not_found");
  EXPECT_GE(metric(*server, "coughkit_monitor_jobs_ended_total{result=\"done\"}"), 1);
  EXPECT_GE(metric(*server, "coughkit_monitor_jobs_ended_total{result=\"failed\"}"), 1);
  EXPECT_GE(metric(*server, "coughkit_monitor_audio_seconds_total"), 60);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

TEST(ServerFlags, PortInUseExits1) {
  auto first = start("port_in_use_first");
  const auto dir = testing::scratch_dir();
  auto r = testing::run_cli("serve --model " + testing::quoted(model_path()) + " --host 127.0.0.1 --port " +
                            std::to_string(first->port()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot bind"), std::string::npos) << r.output;
  EXPECT_EQ(first->stop(), 0);
}

}  // namespace
}  // namespace coughkit
