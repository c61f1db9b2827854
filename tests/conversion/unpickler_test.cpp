// The safe unpickler and the torch object rebuild on hand-made pickles: what it builds, and
// that everything outside the allowlist or malformed is refused with a message that says
// why (never executed: there is nothing in the VM that could execute it).
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "checkpoint/sha256.h"
#include "checkpoint/state_dict.h"
#include "checkpoint/torch_globals.h"
#include "checkpoint/unpickler.h"
#include "common/error.h"

namespace coughkit::checkpoint {
namespace {

// ""s literals: several pickles contain NUL bytes.
using namespace std::string_literals;

// Protocol-2 pickle text for the tests, written with the opcode characters of pickle.py.
std::string P(std::initializer_list<std::string> parts) {
  std::string s = "\x80\x02";
  for (const auto& p : parts) s += p;
  return s + ".";
}
std::string unicode(const std::string& s) {
  std::string out = "X";
  const auto n = static_cast<std::uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + s;
}

struct Loaded {
  Arena arena;
  StorageTable storages;
  PickleValue value;
};

std::unique_ptr<Loaded> load(const std::string& bytes) {
  auto l = std::make_unique<Loaded>();
  Unpickler u(bytes, "test.pkl", l->arena, torch_unpickler_hooks(l->storages));
  l->value = u.load();
  return l;
}

std::string error_of(const std::string& bytes) {
  try {
    load(bytes);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Unpickler, BuildsPlainContainersWithMemo) {
  // {'a': [1, -2, 300, 70000], 'b': (1.5, True, None), 'c': <memo of the list>}
  const std::string bytes = P({"}q\x00("s, unicode("a"),
                               "]q\x01(K\x01J\xfe\xff\xff\xffM\x2c\x01J\x70\x11\x01\x00"s
                               "e",
                               unicode("b"), "G\x3f\xf8\x00\x00\x00\x00\x00\x00\x88N\x87"s, unicode("c"), "h\x01u"});
  auto l = load(bytes);
  const Object* d = as_object(l->value, Object::Kind::Dict);
  ASSERT_NE(d, nullptr);
  const Object* list = as_object(*d->find("a"), Object::Kind::List);
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->items.size(), 4u);
  EXPECT_EQ(std::get<std::int64_t>(list->items[1]), -2);
  EXPECT_EQ(std::get<std::int64_t>(list->items[2]), 300);
  EXPECT_EQ(std::get<std::int64_t>(list->items[3]), 70000);
  const Object* t = as_object(*d->find("b"), Object::Kind::Tuple);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(std::get<double>(t->items[0]), 1.5);
  EXPECT_TRUE(std::get<bool>(t->items[1]));
  EXPECT_EQ(std::get<Object*>(*d->find("c")), list);  // the memo shares, like Python
}

TEST(Unpickler, Long1IsTwosComplement) {
  auto l = load(P({"\x8a\x02\x00\xff"s}));  // -256
  EXPECT_EQ(std::get<std::int64_t>(l->value), -256);
  auto big = load(P({std::string("\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 12)}));
  EXPECT_NE(as_object(big->value, Object::Kind::BigInt), nullptr);
}

TEST(Unpickler, RefusesGlobalsOutsideTheAllowlist) {
  // cposix\nsystem\n (X'touch pwned') R: what pickling os.system("...") produces.
  const auto e = error_of(P({"cposix\nsystem\n", unicode("touch pwned"), "\x85R"}));
  EXPECT_NE(e.find("refused global 'posix.system'"), std::string::npos) << e;
  EXPECT_NE(e.find("test.pkl"), std::string::npos) << e;
  const auto e2 = error_of(P({unicode("builtins"), unicode("eval"), "\x93", unicode("1"), "\x85R"}));
  EXPECT_NE(e2.find("refused global 'builtins.eval'"), std::string::npos) << e2;
  EXPECT_NE(error_of(P({"c__builtin__\ngetattr\n"})).find("refused global"), std::string::npos);
  EXPECT_NE(error_of(P({"ctorch\nload\n"})).find("'torch.load'"), std::string::npos);
}

TEST(Unpickler, RefusesInstantiatingOpcodesAndMalformedStreams) {
  EXPECT_NE(error_of("\x80\x02(iposix\nsystem\n."), "no error");                             // INST
  EXPECT_NE(error_of(P({"(o"})).find("unsupported pickle opcode 0x6f"), std::string::npos);  // OBJ
  EXPECT_NE(error_of("\x80\x02}q\x00(X\x05\x00\x00"s).find("unexpected end of data"), std::string::npos);
  EXPECT_NE(error_of(P({"h\x05"})).find("memo entry 5"), std::string::npos);
  EXPECT_NE(error_of(P({"K\x01K\x02R"})).find("REDUCE on a int"), std::string::npos);
  EXPECT_NE(error_of(P({"K\x01K\x02"})).find("values left"), std::string::npos);
  EXPECT_NE(error_of(P({"u"})).find("no MARK"), std::string::npos);
  EXPECT_NE(error_of(P({"]K\x01K\x02s"})).find("SETITEM on a list"), std::string::npos);
  EXPECT_NE(error_of("\x80\x09N."), "no error");  // unknown protocol
  // An allowlisted callable with the wrong arguments is an error, not a crash.
  EXPECT_NE(error_of(P({"ctorch._utils\n_rebuild_tensor_v2\n", "K\x01\x85R"})).find("_rebuild_tensor"),
            std::string::npos);
}

TEST(Unpickler, RebuildsTensorsSharingAStorage) {
  // Two _rebuild_tensor_v2 calls on the same persistent storage key '0' (6 floats).
  const std::string storage =
      "((" + unicode("storage") + "ctorch\nFloatStorage\n" + unicode("0") + unicode("cpu") + "K\x06tQ";
  const std::string rebuild = "ctorch._utils\n_rebuild_tensor_v2\n";
  const std::string hooks = "ccollections\nOrderedDict\n)R";
  const std::string t1 =
      rebuild + storage + "K\x00K\x02K\x03\x86K\x01K\x02\x86\x89"s + hooks + "tR";          // transposed view
  const std::string t2 = rebuild + storage + "K\x04K\x02\x85K\x01\x85\x89" + hooks + "tR";  // offset 4
  auto l = load(P({"(", t1, t2, "t"}));
  const Object* tup = as_object(l->value, Object::Kind::Tuple);
  ASSERT_NE(tup, nullptr);
  ASSERT_EQ(l->storages.size(), 1u);
  const Object* a = as_object(tup->items[0], Object::Kind::Tensor);
  const Object* b = as_object(tup->items[1], Object::Kind::Tensor);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->tensor.storage, b->tensor.storage);
  std::string bytes(6 * 4, '\0');
  for (int i = 0; i < 6; ++i) {
    const float v = static_cast<float>(i);
    std::memcpy(bytes.data() + 4 * i, &v, 4);
  }
  const auto ta = materialize(a->tensor, bytes, "a");
  EXPECT_EQ(ta.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(ta.data, (std::vector<float>{0, 2, 4, 1, 3, 5}));  // strides (1, 2)
  EXPECT_EQ(materialize(b->tensor, bytes, "b").data, (std::vector<float>{4, 5}));
  // A view reaching outside its storage is refused.
  TensorInfo bad = b->tensor;
  bad.offset = 5;
  try {
    materialize(bad, bytes, "bad");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("outside its storage"), std::string::npos) << e.what();
  }
}

TEST(HalfFloat, ConversionsAreExact) {
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x0001), 5.9604644775390625e-8f);  // smallest subnormal
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
  EXPECT_EQ(bfloat16_to_float(0x3f80), 1.0f);
  for (std::uint32_t h = 0; h < 0x7c00; ++h) {  // every finite positive half round-trips
    ASSERT_EQ(float_to_half(half_to_float(static_cast<std::uint16_t>(h))), h) << h;
    ASSERT_EQ(float_to_half(-half_to_float(static_cast<std::uint16_t>(h))), h | 0x8000u) << h;
  }
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 4096), 0x3c00);  // ties to even
  EXPECT_EQ(float_to_half(1e6f), 0x7c00);
}

TEST(Sha256, KnownDigests) {
  Sha256 a;
  a.update("abc");
  EXPECT_EQ(a.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 b;
  b.update(std::string(1000, 'a'));
  b.update(std::string(999000, 'a'));
  EXPECT_EQ(b.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace coughkit::checkpoint
