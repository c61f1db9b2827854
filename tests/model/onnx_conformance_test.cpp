// ONNX's own conformance suite for the engine: the backend node tests Debian ships in
// libonnx-testdata (/usr/share/libonnx-testdata/data/node/test_*/: model.onnx and
// test_data_set_*/input_*.pb, output_*.pb), every case whose nodes are all operators of the
// engine's op table (model/op_specs.h).
//
// Each case either runs through import -> optimise -> execute and matches ONNX's expected
// outputs with the ONNX test runner's tolerance (numpy assert_allclose, rtol 1e-3, atol 1e-7;
// integer and bool outputs exactly), or is listed in kExpectedRefusals with the words of the
// engine's load-time error. A listed case that loads, or an unlisted one that is refused,
// fails: the list stays the exact account of what the engine does not run.
//
// Convolution weights and bias are initializers in every exported model and the engine
// requires them constant, while ONNX's Conv cases feed them as inputs; those inputs are bound
// as initializers (same values) before loading.
//
// Cases written at an opset below the engine's lowest (ConvInteger and MatMulInteger have only
// their opset-10 definition) run with the opset import raised to the engine's lowest when
// every operator of the case has the same definition at both (onnx's schema registry says
// which), since the file then means the same at either opset.
//
// The suite is registered several times with the kernel dispatch forced differently
// (tests/model/CMakeLists.txt, model/cpu_features.h); KernelPathsOfThisConfiguration prints
// which implementations the cases ran on.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include "common/error.h"
#include "model/cpu_features.h"
#include "model/executor.h"
#include "model/graph_passes.h"
#include "model/onnx_import.h"
#include "model/op_specs.h"
#include "support/test_data.h"

namespace coughkit::testing {
namespace {

namespace fs = std::filesystem;
using model::DType;
using model::Tensor;

fs::path node_test_dir() {
  if (const char* env = std::getenv("COUGHKIT_ONNX_NODE_TESTS"); env && *env) return env;
  return "/usr/share/libonnx-testdata/data/node";
}

// Cases the engine refuses at load time, and the words its error must contain.
struct Refusal {
  const char* test;
  const char* reason;
};
const std::vector<Refusal> kExpectedRefusals = {
#include "onnx_conformance_refusals.inc"
};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

onnx::ModelProto read_model(const fs::path& dir) {
  onnx::ModelProto m;
  const std::string bytes = read_bytes(dir / "model.onnx");
  if (!m.ParseFromString(bytes)) ADD_FAILURE() << dir << "/model.onnx does not parse";
  return m;
}

bool uses_only_table_ops(const onnx::ModelProto& m) {
  if (m.graph().node_size() == 0) return false;
  for (const auto& n : m.graph().node()) {
    if (!n.domain().empty() && n.domain() != "ai.onnx") return false;
    const model::OpSpec* spec = model::find_op(n.op_type());
    if (!spec || spec->internal) return false;
  }
  return true;
}

// The cases of the suite that use only the engine's operators, sorted.
const std::vector<std::string>& cases() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(node_test_dir(), ec)) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with("test_") || !fs::exists(entry.path() / "model.onnx")) continue;
      if (uses_only_table_ops(read_model(entry.path()))) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }();
  return names;
}

const Refusal* expected_refusal(const std::string& name) {
  for (const auto& r : kExpectedRefusals)
    if (name == r.test) return &r;
  return nullptr;
}

// Graph inputs (not initializers), in file order: what input_K.pb feed.
std::vector<std::string> runtime_inputs(const onnx::GraphProto& g) {
  std::set<std::string> inits;
  for (const auto& i : g.initializer()) inits.insert(i.name());
  std::vector<std::string> out;
  for (const auto& i : g.input())
    if (!inits.count(i.name())) out.push_back(i.name());
  return out;
}

// Binds the inputs feeding a Conv's weights or bias as initializers holding data set 0's values.
void bind_conv_parameters(onnx::ModelProto& m, const fs::path& data_set) {
  auto* g = m.mutable_graph();
  std::set<std::string> params;
  for (const auto& n : g->node())
    if (n.op_type() == "Conv")
      for (int k = 1; k < n.input_size(); ++k) params.insert(n.input(k));
  const auto inputs = runtime_inputs(*g);
  onnx::GraphProto rebuilt_inputs;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!params.count(inputs[k])) continue;
    onnx::TensorProto t;
    t.ParseFromString(read_bytes(data_set / ("input_" + std::to_string(k) + ".pb")));
    t.set_name(inputs[k]);
    *g->add_initializer() = t;
  }
  auto* in = g->mutable_input();
  for (int i = in->size() - 1; i >= 0; --i)
    if (params.count(in->Get(i).name())) in->DeleteSubrange(i, 1);
}

std::vector<fs::path> data_sets(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().starts_with("test_data_set_")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// numpy.testing.assert_allclose as the ONNX runner calls it; exact for integers and bools.
void expect_matches(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(model::dtype_name(got.dtype), std::string(model::dtype_name(want.dtype))) << what << ": element type";
  ASSERT_EQ(model::shape_str(got.shape), model::shape_str(want.shape)) << what << ": shape";
  const std::int64_t n = want.numel();
  int reported = 0;
  for (std::int64_t i = 0; i < n && reported < 5; ++i) {
    bool ok = true;
    std::string g, w;
    switch (want.dtype) {
      case DType::Float: {
        const float a = got.data<float>()[i], e = want.data<float>()[i];
        ok = (std::isnan(a) && std::isnan(e)) || a == e ||
             std::abs(static_cast<double>(a) - e) <= 1e-7 + 1e-3 * std::abs(static_cast<double>(e));
        g = std::to_string(a), w = std::to_string(e);
        break;
      }
      case DType::Int64: ok = got.data<std::int64_t>()[i] == want.data<std::int64_t>()[i]; break;
      case DType::Int32: ok = got.data<std::int32_t>()[i] == want.data<std::int32_t>()[i]; break;
      case DType::Bool: ok = got.data<bool>()[i] == want.data<bool>()[i]; break;
      case DType::Float16: ok = got.data<std::uint16_t>()[i] == want.data<std::uint16_t>()[i]; break;
      case DType::UInt8: ok = got.data<std::uint8_t>()[i] == want.data<std::uint8_t>()[i]; break;
      case DType::Int8: ok = got.data<std::int8_t>()[i] == want.data<std::int8_t>()[i]; break;
    }
    if (!ok) {
      ++reported;
      ADD_FAILURE() << what << ": element " << i << " got " << g << " want " << w;
    }
  }
}

// Raises an opset import below the engine's lowest to it when no operator of the graph
// changed between the two.
void lift_unchanged_opset(onnx::ModelProto& m) {
  for (auto& import : *m.mutable_opset_import()) {
    if (!import.domain().empty() && import.domain() != "ai.onnx") continue;
    const int from = static_cast<int>(import.version());
    if (from >= model::kMinOpset) return;
    for (const auto& n : m.graph().node()) {
      const auto* old_schema = onnx::OpSchemaRegistry::Schema(n.op_type(), from, "");
      const auto* new_schema = onnx::OpSchemaRegistry::Schema(n.op_type(), model::kMinOpset, "");
      if (!old_schema || !new_schema || old_schema->since_version() != new_schema->since_version()) return;
    }
    import.set_version(model::kMinOpset);
  }
}

// Loads the case (conv parameters bound, opset lifted where that changes nothing); throws
// what the engine throws.
std::unique_ptr<model::Executor> load_case(const fs::path& dir) {
  onnx::ModelProto m = read_model(dir);
  lift_unchanged_opset(m);
  const auto sets = data_sets(dir);
  if (!sets.empty()) bind_conv_parameters(m, sets.front());
  model::Graph g = model::import_onnx_bytes(m.SerializeAsString(), dir.filename().string());
  model::optimize(g);
  return std::make_unique<model::Executor>(std::move(g), model::ExecutorOptions{});
}

// Runs every data set of a loaded case against its expected outputs.
void run_case(model::Executor& exec, const fs::path& dir) {
  const auto sets = data_sets(dir);
  ASSERT_FALSE(sets.empty()) << dir << " has no test_data_set_*";
  // After binding, the remaining inputs keep their original positions among the files.
  const auto all = runtime_inputs(read_model(dir).graph());
  for (const auto& set : sets) {
    std::vector<Tensor> inputs;
    for (std::size_t k = 0; k < exec.graph().inputs.size(); ++k) {
      const auto& name = exec.graph().inputs[k].name;
      const auto pos = std::find(all.begin(), all.end(), name) - all.begin();
      inputs.push_back(model::import_onnx_tensor(read_bytes(set / ("input_" + std::to_string(pos) + ".pb")), name));
    }
    const auto outputs = exec.run(inputs);
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      const fs::path expected = set / ("output_" + std::to_string(k) + ".pb");
      ASSERT_TRUE(fs::exists(expected)) << expected;
      expect_matches(outputs[k], model::import_onnx_tensor(read_bytes(expected), expected.string()),
                     set.filename().string() + " output " + std::to_string(k));
    }
  }
}

std::set<std::string>& kernels_seen() {
  static std::set<std::string> seen;
  return seen;
}

std::string configuration() {
  const char* isa = std::getenv("DNNL_MAX_CPU_ISA");
  return "onednn=" + model::onednn_isa() + (isa ? std::string(" (DNNL_MAX_CPU_ISA=") + isa + ")" : std::string()) +
         " own_avx2_kernels=" + (model::own_avx2_kernels_enabled() ? "on" : "off");
}

class OnnxNodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxNodeTest, MatchesOnnxOrIsRefusedAsListed) {
  const fs::path dir = node_test_dir() / GetParam();
  const Refusal* refusal = expected_refusal(GetParam());
  std::unique_ptr<model::Executor> exec;
  try {
    exec = load_case(dir);
  } catch (const InputError& e) {
    ASSERT_NE(refusal, nullptr) << GetParam() << " is refused but not listed as refused: " << e.what();
    EXPECT_NE(std::string(e.what()).find(refusal->reason), std::string::npos)
        << GetParam() << ": refused for another reason than listed ('" << refusal->reason << "'): " << e.what();
    return;
  }
  ASSERT_EQ(refusal, nullptr) << GetParam() << " is listed as refused ('" << refusal->reason
                              << "') but loads: remove it from tests/model/onnx_conformance_refusals.inc";
  run_case(*exec, dir);
  for (const auto& k : exec->kernels_used()) kernels_seen().insert(k);
}

std::string case_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

INSTANTIATE_TEST_SUITE_P(Node, OnnxNodeTest, ::testing::ValuesIn(cases()), case_name);

TEST(OnnxConformance, SuiteIsInstalledAndCoversEveryOperator) {
  ASSERT_TRUE(fs::is_directory(node_test_dir()))
      << node_test_dir() << " is missing: install libonnx-testdata (scripts/install-deps.sh)";
  std::set<std::string> covered;
  for (const auto& name : cases()) {
    const onnx::ModelProto m = read_model(node_test_dir() / name);
    for (const auto& n : m.graph().node()) covered.insert(n.op_type());
  }
  // Operators of the table without a case of their own in ONNX 1.12's node tests.
  const std::set<std::string> without_cases = {};
  for (const char* op : {"Conv",
                         "MaxPool",
                         "AveragePool",
                         "GlobalAveragePool",
                         "Gemm",
                         "MatMul",
                         "BatchNormalization",
                         "Relu",
                         "Tanh",
                         "Sigmoid",
                         "Neg",
                         "Exp",
                         "Sqrt",
                         "Abs",
                         "Add",
                         "Sub",
                         "Mul",
                         "Div",
                         "Equal",
                         "Not",
                         "Where",
                         "Softmax",
                         "ReduceSum",
                         "ReduceMean",
                         "Shape",
                         "Gather",
                         "Concat",
                         "Reshape",
                         "Unsqueeze",
                         "Squeeze",
                         "Flatten",
                         "Identity",
                         "Dropout",
                         "Cast",
                         "Constant",
                         "ConstantOfShape",
                         "Expand",
                         "Transpose",
                         "Slice"}) {
    ASSERT_NE(model::find_op(op), nullptr) << op;
    if (!without_cases.count(op)) EXPECT_TRUE(covered.count(op)) << op << " has no conformance case";
  }
  for (const auto& r : kExpectedRefusals)
    EXPECT_TRUE(std::find(cases().begin(), cases().end(), r.test) != cases().end())
        << r.test << " is listed as refused but is not a case of the suite";
  std::printf("[conformance] %zu cases, %zu expected refusals; %s\n", cases().size(), kExpectedRefusals.size(),
              configuration().c_str());
}

// After all cases: the union of the kernels they ran on, so each registered configuration
// shows which paths it covered, and a check that the forced dispatch held.
class KernelPathReport : public ::testing::Environment {
 public:
  void TearDown() override {
    std::printf("[kernels] %s\n", configuration().c_str());
    for (const auto& k : kernels_seen()) std::printf("[kernels]   %s\n", k.c_str());
    const std::string isa = model::onednn_isa();
    for (const auto& k : kernels_seen()) {
      if (!model::own_avx2_kernels_enabled()) EXPECT_EQ(k.find("own_"), std::string::npos) << k;
      if (k.find("own_") != std::string::npos) continue;  // the checks below are on oneDNN's choices
      if (!isa.starts_with("avx512")) EXPECT_EQ(k.find("avx512"), std::string::npos) << k << " under " << isa;
      if (isa == "sse41") EXPECT_EQ(k.find("avx"), std::string::npos) << k << " under " << isa;
    }
  }
};
const auto* const kReport = ::testing::AddGlobalTestEnvironment(new KernelPathReport);

}  // namespace
}  // namespace coughkit::testing
