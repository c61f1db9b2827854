// The server's pieces alone: config defaults and validation, metrics exposition format,
// request helpers.
#include <gtest/gtest.h>

#include "common/error.h"
#include "server/http_types.h"
#include "server/metrics.h"
#include "server/routes.h"
#include "server/server_config.h"
#include "server/service.h"

namespace coughkit::server {
namespace {

TEST(ServerConfig, DefaultsAreTheDocumentedOnes) {
  const ServerConfig c;
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 8080);
  EXPECT_EQ(c.max_upload_bytes, 25u * 1024 * 1024);
  EXPECT_DOUBLE_EQ(c.max_audio_seconds, 600.0);
  EXPECT_EQ(c.queue_limit, 16);
  EXPECT_EQ(c.max_batch, 8);
  EXPECT_EQ(c.read_timeout_s, 5);
  EXPECT_TRUE(c.save_uploads_dir.empty());  // uploads are not kept unless asked
  EXPECT_TRUE(c.cors_origin.empty());       // no CORS unless asked
  EXPECT_GE(c.resolved_workers(), 1);
  EXPECT_EQ(c.max_connections, 256);
  EXPECT_EQ(c.max_connections_per_client, 32);
  EXPECT_DOUBLE_EQ(c.header_timeout_s, 10.0);
  EXPECT_DOUBLE_EQ(c.min_upload_kib_per_s, 16.0);
  const auto text = c.ToString();
  for (const char* field : {"host=127.0.0.1", "port=8080", "max_batch=8", "save_uploads_dir=off", "cors_origin=off"})
    EXPECT_NE(text.find(field), std::string::npos) << field << " in " << text;
}

TEST(ServerConfig, ValidateNamesTheFlag) {
  auto expect_error = [](ServerConfig c, const std::string& flag) {
    c.detector.model_path = "m.onnx";
    try {
      c.Validate();
      ADD_FAILURE() << "no error for " << flag;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  };
  ServerConfig c;
  c.port = 70000;
  expect_error(c, "--port");
  c = {};
  c.max_batch = 0;
  expect_error(c, "--max-batch");
  c = {};
  c.max_connections_per_client = c.max_connections + 1;
  expect_error(c, "--max-connections-per-client");
  c = {};
  c.max_connections = 5000;
  expect_error(c, "--max-connections");
  c = {};
  c.header_timeout_s = 0;
  expect_error(c, "--header-timeout");
  c = {};
  c.max_audio_seconds = 0;
  expect_error(c, "--max-audio-seconds");
  c = {};
  c.cors_origin = "a\r\nSet-Cookie: x";
  expect_error(c, "--cors-origin");
  c = {};
  EXPECT_THROW(c.Validate(), ConfigError);  // no model
  c.detector.model_path = "m.onnx";
  EXPECT_NO_THROW(c.Validate());
}

TEST(Metrics, PrometheusTextWithHelpTypeAndCumulativeBuckets) {
  Metrics m;
  m.observe_request("/v1/detect", "POST", 200, 0.03);
  m.observe_request("/v1/detect", "POST", 200, 0.3);
  m.observe_request("/v1/detect", "POST", 422, 0.001);
  m.observe_audio(2.5, 2);
  m.observe_batch(3, 5, 0.2);
  m.set_model_loaded(1.25);
  const auto text = m.render(4);
  EXPECT_NE(text.find("# HELP coughkit_http_requests_total "), std::string::npos);
  EXPECT_NE(text.find("# TYPE coughkit_http_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("coughkit_http_requests_total{route=\"/v1/detect\",method=\"POST\",status=\"200\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("coughkit_http_request_duration_seconds_bucket{route=\"/v1/detect\",le=\"0.005\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("coughkit_http_request_duration_seconds_bucket{route=\"/v1/detect\",le=\"0.05\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("coughkit_http_request_duration_seconds_bucket{route=\"/v1/detect\",le=\"+Inf\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("coughkit_http_request_duration_seconds_count{route=\"/v1/detect\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("coughkit_audio_seconds_total 2.5\n"), std::string::npos);
  EXPECT_NE(text.find("coughkit_segments_total 2\n"), std::string::npos);
  EXPECT_NE(text.find("coughkit_inference_batch_bags_bucket{le=\"4\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("coughkit_inference_queue_depth 4\n"), std::string::npos);
  EXPECT_NE(text.find("coughkit_model_load_seconds 1.25\n"), std::string::npos);
  EXPECT_EQ(route_label("/v1/detect"), "/v1/detect");
  EXPECT_EQ(route_label("/v1/detect/../../etc"), "other");  // bounded label set
}

TEST(Request, ContentTypeAndThreshold) {
  Request r;
  r.headers.emplace("content-type", "Multipart/Form-Data; boundary=abc");
  EXPECT_EQ(r.content_type(), "multipart/form-data");
  EXPECT_TRUE(r.is_multipart());
  EXPECT_EQ(parse_threshold(std::nullopt), std::nullopt);
  EXPECT_FLOAT_EQ(*parse_threshold(std::string(" 0.25 ")), 0.25f);
  EXPECT_FLOAT_EQ(*parse_threshold(std::string("1")), 1.0f);
  for (const char* bad : {"", "x", "1.5", "-0.1", "nan", "0.5abc"}) {
    try {
      parse_threshold(std::string(bad));
      ADD_FAILURE() << bad;
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status, 400);
      EXPECT_EQ(e.code, "invalid_threshold");
    }
  }
}

}  // namespace
}  // namespace coughkit::server
