// `coughkit export`: a PyTorch checkpoint (.pth) -> ONNX model, checked by onnx::checker and
// by a parity run of the written file against the checkpoint (src/export/export_checkpoint.h).
#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "common/error.h"
#include "export/export_checkpoint.h"
#include "model/op_specs.h"

namespace coughkit::cli {
namespace {

struct ExportArgs {
  exporter::ExportRequest request;
  std::optional<float> threshold, highpass_hz;
  bool json = false;
};

int run_export(ExportArgs& args) {
  args.request.overrides = {.threshold = args.threshold, .highpass_hz = args.highpass_hz};
  const exporter::ExportReport report = exporter::export_checkpoint(args.request);
  if (args.json) {
    std::printf("%s\n", report.ToJson().c_str());
    return kExitOk;
  }
  const auto& src = report.source;
  std::printf("wrote %s: %.1f MB, opset %d, %s weights, BatchNorm folded, onnx::checker ok\n", report.out.c_str(),
              static_cast<double>(report.bytes) / 1e6, report.opset, report.fp16 ? "float16" : "float32");
  std::printf("from  %s: %s checkpoint, %.1f MB, %s tensors%s, sha256 %s\n", src.path.c_str(), src.format.c_str(),
              static_cast<double>(src.file_size) / 1e6, src.state.source_types().c_str(),
              src.has_optimizer_state ? ", optimizer state skipped" : "", src.sha256.substr(0, 16).c_str());
  if (src.epoch || src.val_auc)
    std::printf("      epoch %s, val_auc %s, val_ap %s\n", src.epoch ? std::to_string(*src.epoch).c_str() : "-",
                src.val_auc ? fmt::format("{:.4f}", *src.val_auc).c_str() : "-",
                src.val_ap ? fmt::format("{:.4f}", *src.val_ap).c_str() : "-");
  std::printf("parity on the probe input: max |written - checkpoint| = %.3g (tolerance %.3g)", report.max_diff,
              args.request.tolerance);
  if (report.fp16) std::printf("; vs the float32 checkpoint %.3g", report.max_diff_vs_fp32);
  std::printf("\n");
  return kExitOk;
}

}  // namespace

CommandRunner register_export(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export", "Convert a PyTorch checkpoint (.pth) to an ONNX model");
  cmd->footer(
      "Reads a torch.save checkpoint (the training dict with model_state_dict, or a bare state dict; fp32/fp16/bf16)\n"
      "without Python and without running anything in it, writes AttnMILResNet as ONNX with BatchNorm folded,\n"
      "the input/output names and dynamic axes of docs/pipeline.md, and metadata_props: threshold, highpass_hz,\n"
      "preprocessing (JSON), epoch, val_auc, val_ap, source_sha256. The written file and the checkpoint are run on\n"
      "a probe input; the export fails (and the file is removed) if they differ by more than --tolerance.\n"
      "Example: coughkit export --checkpoint best_model.pth --out model.onnx --opset 14");
  auto& r = args->request;
  cmd->add_option("--checkpoint,-c", r.checkpoint, "PyTorch checkpoint (.pth/.pt)")->required();
  cmd->add_option("--out,-o", r.out, "Output ONNX file")->required();
  // The bounds are checked once, by ExportRequest::Validate (a ConfigError: exit 2, as a parse error).
  cmd->add_option("--opset", r.opset, fmt::format("ONNX opset, {} to {}", model::kMinOpset, model::kMaxOpset))
      ->capture_default_str();
  cmd->add_flag("--fp16", r.fp16, "Store weights as float16 (half the size; outputs change by ~1e-3)");
  cmd->add_option("--threshold", args->threshold,
                  "Decision threshold stored in the model (default: the checkpoint config's, else 0.61)")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--highpass-hz", args->highpass_hz,
                  "High-pass cutoff stored in the model's preprocessing config (default: the config's, else 0 = off)")
      ->check(CLI::Range(0.0f, 7999.0f));
  cmd->add_option("--tolerance", r.tolerance, "Largest accepted |written - checkpoint| on the probe input")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print the report as one JSON object");
  add_engine_flags(cmd, r.engine);
  return [args] { return run_export(*args); };
}

}  // namespace coughkit::cli
