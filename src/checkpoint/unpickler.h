#pragma once
// A pickle virtual machine that only builds data. It understands the opcodes torch.save
// writes (protocol 2, plus the protocol 3-5 forms of the same operations), and it never
// imports or calls anything: a GLOBAL is looked up in the caller's allowlist and refused
// when absent, and REDUCE/BUILD/persistent ids are handed to the caller's hooks, which
// build plain values (unlike pickle.load / torch.load(weights_only=False), which would run
// `posix.system` or any other callable a file names).
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/pickle_value.h"

namespace coughkit::checkpoint {

struct UnpicklerHooks {
  // Is `module.name` allowed as a GLOBAL at all? Refused globals stop the load.
  std::function<bool(const std::string& module, const std::string& name)> allow_global;
  // REDUCE / NEWOBJ of an allowed global with its arguments.
  std::function<PickleValue(Arena&, const Object& callable, const std::vector<PickleValue>& args)> call;
  // BINPERSID: the persistent id (torch's storage tuples).
  std::function<PickleValue(Arena&, const PickleValue& pid)> persistent_load;
};

class Unpickler {
 public:
  // `source` names the file in error messages.
  Unpickler(std::string_view data, std::string source, Arena& arena, UnpicklerHooks hooks);
  // Runs one pickle from the current position up to its STOP and returns the result.
  // Throws InputError naming the source, the offset and what is wrong (refused global,
  // unsupported opcode, truncated data, malformed stack).
  PickleValue load();
  std::size_t position() const { return pos_; }

 private:
  [[noreturn]] void fail(const std::string& why) const;
  std::uint8_t u8();
  std::uint64_t uint_le(int bytes);
  std::string_view take(std::uint64_t n);
  std::string line();
  PickleValue pop();
  PickleValue& top();
  std::vector<PickleValue> pop_mark();
  void push(PickleValue v);
  void memo_put(std::uint64_t index);
  PickleValue memo_get(std::uint64_t index) const;
  Object* container(const PickleValue& v, Object::Kind kind, const char* op) const;
  void set_items(Object& dict, std::vector<PickleValue>& kv);
  void build(PickleValue& target, const PickleValue& state);

  // The opcodes by group; each returns false for an opcode outside its group.
  bool run_stack_op(std::uint8_t op);    // PROTO, FRAME, MARK, POP, POP_MARK, DUP and the memo
  bool push_scalar(std::uint8_t op);     // None, bools, ints, floats, strings, bytes
  bool make_container(std::uint8_t op);  // empty and MARK-built tuples, lists, sets, dicts
  bool fill_container(std::uint8_t op);  // APPEND(S), ADDITEMS, SETITEM(S)
  bool run_object_op(std::uint8_t op);   // globals, REDUCE/NEWOBJ, BUILD, persistent ids
  void push_global(std::uint8_t op);
  void reduce(std::uint8_t op);
  void persistent_load();
  PickleValue stop();

  std::string_view data_;
  std::string source_;
  Arena& arena_;
  UnpicklerHooks hooks_;
  std::size_t pos_ = 0, op_start_ = 0;
  std::vector<PickleValue> stack_;
  std::vector<std::size_t> marks_;
  std::vector<PickleValue> memo_;
  std::vector<bool> memo_set_;
};

}  // namespace coughkit::checkpoint
