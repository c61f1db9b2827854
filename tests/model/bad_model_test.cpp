// Files the engine must refuse, each with a message that says what is wrong and where.
#include <fstream>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "common/error.h"
#include "fixtures.h"
#include "support/test_data.h"

namespace coughkit::testing {
namespace {

std::string load_error(const std::filesystem::path& path) {
  try {
    model::Engine::load_onnx(path.string(), {});
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << path << " loaded";
  return {};
}

std::filesystem::path bad(const std::string& key) {
  return model_fixture_dir() / model_fixture_manifest().at("bad_models").at(key).get<std::string>();
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::filesystem::path write(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

TEST(BadModel, MissingAndEmptyFiles) {
  auto dir = scratch_dir();
  auto msg = load_error(dir / "absent.onnx");
  EXPECT_HAS(msg, "absent.onnx");
  EXPECT_HAS(msg, "cannot open");
  EXPECT_HAS(load_error(write(dir / "empty.onnx", "")), "empty");
}

TEST(BadModel, RandomBytes) {
  std::string junk(4096, '\0');
  std::uint32_t s = 12345;
  for (auto& c : junk) {
    s = s * 1664525u + 1013904223u;
    c = static_cast<char>(s >> 24);
  }
  auto path = write(scratch_dir() / "junk.onnx", junk);
  auto msg = load_error(path);
  EXPECT_HAS(msg, "junk.onnx");
  EXPECT_HAS(msg, "not an ONNX model");
}

TEST(BadModel, TruncatedProtobuf) {
  auto dir = scratch_dir();
  std::string whole = read_all(bad("tiny_valid"));
  ASSERT_GT(whole.size(), 1000u);
  for (std::size_t keep : {whole.size() / 2, whole.size() - 7}) {
    auto msg = load_error(write(dir / ("cut" + std::to_string(keep) + ".onnx"), whole.substr(0, keep)));
    EXPECT_HAS(msg, "cut" + std::to_string(keep) + ".onnx");
    EXPECT_HAS(msg, "not an ONNX model");
  }
  // The first megabyte of a real ResNet model.
  std::ifstream in(model_fixture_dir() / "attnmil_op11.onnx", std::ios::binary);
  std::string head(1 << 20, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  EXPECT_HAS(load_error(write(dir / "head.onnx", head)), "not an ONNX model");
}

TEST(BadModel, AnotherNetwork) {
  auto msg = load_error(bad("other_network"));
  EXPECT_HAS(msg, "tiny_mlp.onnx");
  EXPECT_HAS(msg, "expected inputs 'spectrograms' and 'segment_mask'");
  EXPECT_HAS(msg, "found 'x'");
}

TEST(BadModel, WrongInputNames) {
  auto msg = load_error(bad("wrong_input_names"));
  EXPECT_HAS(msg, "found 'images', 'mask'");
}

TEST(BadModel, WrongRanks) {
  auto msg = load_error(bad("wrong_ranks"));
  EXPECT_HAS(msg, "wrong_ranks.onnx");
  EXPECT_HAS(msg, "'spectrograms' must have rank 5");
}

TEST(BadModel, UnsupportedOperatorNamesOpNodeAndFile) {
  auto msg = load_error(bad("unsupported_op"));
  EXPECT_HAS(msg, "unsupported_op_erf.onnx");
  EXPECT_HAS(msg, "unsupported operator 'Erf'");
  EXPECT_HAS(msg, "/act/Erf");
}

TEST(BadModel, UnsupportedAttributeValue) {
  auto msg = load_error(bad("unsupported_attribute"));
  EXPECT_HAS(msg, "unsupported_attr_ceil_mode.onnx");
  EXPECT_HAS(msg, "(MaxPool)");
  EXPECT_HAS(msg, "ceil_mode=1 is not supported");
}

// Edits of a valid file: opset out of range, a missing output, a wrong input type.
TEST(BadModel, EditedContract) {
  auto dir = scratch_dir();
  onnx::ModelProto base;
  ASSERT_TRUE(base.ParseFromString(read_all(bad("tiny_valid"))));
  {
    auto m = base;
    m.mutable_opset_import(0)->set_version(19);
    EXPECT_HAS(load_error(write(dir / "opset19.onnx", m.SerializeAsString())),
               "opset 19 is not supported (supported: 11-17)");
  }
  {
    auto m = base;
    m.mutable_graph()->mutable_output()->RemoveLast();
    EXPECT_HAS(load_error(write(dir / "no_output.onnx", m.SerializeAsString())), "output 'bag_logit' is missing");
  }
  {
    auto m = base;
    m.mutable_graph()->mutable_input(1)->mutable_type()->mutable_tensor_type()->set_elem_type(
        onnx::TensorProto_DataType_FLOAT);
    EXPECT_HAS(load_error(write(dir / "mask_float.onnx", m.SerializeAsString())), "'segment_mask' must be bool");
  }
  {
    auto m = base;
    auto* dims = m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
    dims->mutable_dim(3)->set_dim_value(128);
    EXPECT_HAS(load_error(write(dir / "small_image.onnx", m.SerializeAsString())), "must have shape (?,?,3,224,224)");
  }
}

}  // namespace
}  // namespace coughkit::testing
