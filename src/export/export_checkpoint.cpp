#include "export/export_checkpoint.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_text.h"
#include "export/attnmil_onnx.h"
#include "io/atomic_file.h"

namespace coughkit::exporter {
namespace {

// Probe: two bags of 3 segments, the second with one padded (masked) segment, so the
// masking path is compared too. Smooth deterministic images in [-1, 1].
struct Probe {
  int batch = 2, segments = 3;
  std::vector<float> input;
  std::vector<std::uint8_t> mask{1, 1, 1, 1, 1, 0};
};

Probe make_probe() {
  Probe p;
  constexpr int n = model::kImageSize;
  std::vector<float> images(static_cast<std::size_t>(p.batch) * p.segments * n * n);
  for (std::size_t s = 0; s < static_cast<std::size_t>(p.batch * p.segments); ++s)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x)
        images[(s * n + y) * n + x] =
            0.9f *
            std::sin(0.045f * static_cast<float>(x) * static_cast<float>(s + 1) + 0.031f * static_cast<float>(y)) *
            std::cos(0.013f * static_cast<float>(x * y % 97));
  p.input.assign(images.size() * model::kChannels, 0.0f);
  model::images_to_model_input(images, p.batch * p.segments, p.input);
  // The padded segment is all-zero model input (docs/pipeline.md section 5).
  std::fill(p.input.end() - static_cast<std::ptrdiff_t>(model::kSegmentValues), p.input.end(), 0.0f);
  return p;
}

}  // namespace

void ExportRequest::Validate() const {
  if (checkpoint.empty()) throw ConfigError("checkpoint is empty: pass --checkpoint FILE.pth");
  if (out.empty()) throw ConfigError("out is empty: pass --out FILE.onnx");
  ExportOptions{.opset = opset, .fp16 = fp16}.Validate();
  if (!(tolerance > 0.0)) throw ConfigError(fmt::format("tolerance must be > 0, got {}", tolerance));
  engine.Validate();
}

double max_output_difference(const model::ModelOutputs& a, const model::ModelOutputs& b) {
  double worst = 0.0;
  auto cmp = [&](const std::vector<float>& x, const std::vector<float>& y) {
    if (x.size() != y.size()) worst = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
      const double d = std::fabs(static_cast<double>(x[i]) - y[i]);
      if (!(d <= worst)) worst = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
    }
  };
  cmp(a.bag_probability, b.bag_probability);
  cmp(a.segment_probabilities, b.segment_probabilities);
  cmp(a.segment_logits, b.segment_logits);
  cmp(a.bag_logit, b.bag_logit);
  return worst;
}

void check_onnx_model(const std::string& serialized, const std::string& what) {
  onnx::ModelProto m;
  if (!m.ParseFromString(serialized)) throw std::runtime_error(what + ": the written model does not parse");
  try {
    onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    throw std::runtime_error(what + ": onnx::checker rejects the model: " + e.what());
  }
}

std::string ExportReport::ToJson() const {
  nlohmann::json j = {{"out", out},
                      {"bytes", bytes},
                      {"opset", opset},
                      {"fp16", fp16},
                      {"checkpoint", source.path},
                      {"checkpoint_format", source.format},
                      {"checkpoint_sha256", source.sha256},
                      {"max_abs_diff", max_diff},
                      {"max_abs_diff_vs_fp32", max_diff_vs_fp32}};
  if (source.epoch) j["epoch"] = *source.epoch;
  if (source.val_auc) j["val_auc"] = *source.val_auc;
  return json_text(j);
}

ExportReport export_checkpoint(const ExportRequest& request) {
  request.Validate();
  ExportReport report;
  report.out = request.out;
  report.opset = request.opset;
  report.fp16 = request.fp16;
  report.source = checkpoint::read_checkpoint(request.checkpoint);

  const std::string bytes = checkpoint_onnx_bytes(report.source, request.opset, request.fp16, request.overrides);
  check_onnx_model(bytes, request.out);
  try {
    io::write_file_atomically(request.out, bytes);
  } catch (const std::runtime_error& e) {
    throw InputError(e.what());  // an unwritable --out is the caller's input to fix
  }
  report.bytes = bytes.size();

  // Parity gate: run what was written (read back from disk) against the checkpoint.
  try {
    const Probe probe = make_probe();
    auto run = [&](const model::Engine& e) { return e.run(probe.batch, probe.segments, probe.input, probe.mask); };
    const auto written = run(*model::Engine::load_onnx(request.out, request.engine));
    const auto fp32 =
        run(*model::Engine::load_onnx_bytes(checkpoint_onnx_bytes(report.source), request.checkpoint, request.engine));
    report.max_diff_vs_fp32 = max_output_difference(written, fp32);
    report.max_diff = report.max_diff_vs_fp32;
    if (request.fp16) {
      // fp16 weights change the outputs by design; the gate compares with the checkpoint's
      // weights rounded the same way, and the difference from fp32 is reported.
      const auto same = run(*model::Engine::load_onnx_bytes(checkpoint_onnx_bytes(report.source, 14, true),
                                                            request.checkpoint, request.engine));
      report.max_diff = max_output_difference(written, same);
    }
    if (!(report.max_diff <= request.tolerance))
      throw std::runtime_error(
          fmt::format("{}: the written model differs from the checkpoint by {:.3g} (> {:.3g}) on the "
                      "probe input; the file was removed",
                      request.out, report.max_diff, request.tolerance));
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(request.out, ec);
    throw;
  }
  return report;
}

}  // namespace coughkit::exporter
