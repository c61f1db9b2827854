#include "checkpoint/unpickler.h"

#include <bit>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::checkpoint {
namespace {

// Bounds on hostile input: a state dict needs a few thousand stack entries (SETITEMS
// batches of 1000) and memo slots (one per value); these leave wide room.
constexpr std::size_t kMaxStack = std::size_t{1} << 20;
constexpr std::size_t kMaxMemo = std::size_t{1} << 22;

// Opcode values from CPython's Lib/pickle.py.
enum Op : std::uint8_t {
  MARK = '(',
  STOP = '.',
  POP = '0',
  POP_MARK = '1',
  DUP = '2',
  BININT = 'J',
  BININT1 = 'K',
  BININT2 = 'M',
  NONE = 'N',
  BINPERSID = 'Q',
  REDUCE = 'R',
  BINSTRING = 'T',
  SHORT_BINSTRING = 'U',
  BINUNICODE = 'X',
  APPEND = 'a',
  BUILD = 'b',
  GLOBAL = 'c',
  DICT = 'd',
  EMPTY_DICT = '}',
  APPENDS = 'e',
  BINGET = 'h',
  LONG_BINGET = 'j',
  LIST = 'l',
  EMPTY_LIST = ']',
  BINPUT = 'q',
  LONG_BINPUT = 'r',
  SETITEM = 's',
  TUPLE = 't',
  EMPTY_TUPLE = ')',
  SETITEMS = 'u',
  BINFLOAT = 'G',
  PROTO = 0x80,
  NEWOBJ = 0x81,
  TUPLE1 = 0x85,
  TUPLE2 = 0x86,
  TUPLE3 = 0x87,
  NEWTRUE = 0x88,
  NEWFALSE = 0x89,
  LONG1 = 0x8a,
  LONG4 = 0x8b,
  BINBYTES = 'B',
  SHORT_BINBYTES = 'C',
  SHORT_BINUNICODE = 0x8c,
  BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e,
  EMPTY_SET = 0x8f,
  ADDITEMS = 0x90,
  FROZENSET = 0x91,
  STACK_GLOBAL = 0x93,
  MEMOIZE = 0x94,
  FRAME = 0x95,
};

// Python's int from little-endian two's complement bytes (LONG1/LONG4), when it fits.
bool long_to_int64(std::string_view bytes, std::int64_t& out) {
  if (bytes.empty()) {
    out = 0;
    return true;
  }
  if (bytes.size() > 8) return false;
  std::uint64_t u = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) u |= std::uint64_t{static_cast<std::uint8_t>(bytes[i])} << (8 * i);
  if (bytes.size() < 8 && (static_cast<std::uint8_t>(bytes.back()) & 0x80))
    u |= ~std::uint64_t{0} << (8 * bytes.size());
  out = static_cast<std::int64_t>(u);
  return true;
}

}  // namespace

Unpickler::Unpickler(std::string_view data, std::string source, Arena& arena, UnpicklerHooks hooks)
    : data_(data), source_(std::move(source)), arena_(arena), hooks_(std::move(hooks)) {}

void Unpickler::fail(const std::string& why) const {
  throw InputError(fmt::format("{}: pickle at byte {}: {}", source_, op_start_, why));
}

std::uint8_t Unpickler::u8() {
  if (pos_ >= data_.size()) fail("unexpected end of data (truncated file?)");
  return static_cast<std::uint8_t>(data_[pos_++]);
}

std::uint64_t Unpickler::uint_le(int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t{u8()} << (8 * i);
  return v;
}

std::string_view Unpickler::take(std::uint64_t n) {
  if (n > data_.size() - pos_) fail("unexpected end of data (truncated file?)");
  auto s = data_.substr(pos_, n);
  pos_ += n;
  return s;
}

std::string Unpickler::line() {
  const auto end = data_.find('\n', pos_);
  if (end == std::string_view::npos || end - pos_ > 256) fail("malformed GLOBAL name");
  std::string s(data_.substr(pos_, end - pos_));
  pos_ = end + 1;
  return s;
}

void Unpickler::push(PickleValue v) {
  if (stack_.size() >= kMaxStack) fail("stack grows past " + std::to_string(kMaxStack) + " entries");
  stack_.push_back(std::move(v));
}

PickleValue Unpickler::pop() {
  if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("pop from an empty stack");
  PickleValue v = std::move(stack_.back());
  stack_.pop_back();
  return v;
}

PickleValue& Unpickler::top() {
  if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("empty stack");
  return stack_.back();
}

std::vector<PickleValue> Unpickler::pop_mark() {
  if (marks_.empty()) fail("no MARK on the stack");
  const std::size_t m = marks_.back();
  marks_.pop_back();
  std::vector<PickleValue> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                                 std::make_move_iterator(stack_.end()));
  stack_.resize(m);
  return items;
}

void Unpickler::memo_put(std::uint64_t index) {
  if (index >= kMaxMemo) fail("memo index " + std::to_string(index) + " out of range");
  if (memo_.size() <= index) {
    memo_.resize(index + 1);
    memo_set_.resize(index + 1, false);
  }
  memo_[index] = top();
  memo_set_[index] = true;
}

PickleValue Unpickler::memo_get(std::uint64_t index) const {
  if (index >= memo_.size() || !memo_set_[index]) fail("memo entry " + std::to_string(index) + " is not defined");
  return memo_[index];
}

Object* Unpickler::container(const PickleValue& v, Object::Kind kind, const char* op) const {
  const auto* p = std::get_if<Object*>(&v);
  if (!p || (*p)->kind != kind) fail(std::string(op) + " on a " + type_name(v));
  return *p;
}

void Unpickler::set_items(Object& dict, std::vector<PickleValue>& kv) {
  if (kv.size() % 2) fail("SETITEMS with an odd number of items");
  for (std::size_t i = 0; i < kv.size(); i += 2) {
    // Python semantics: a repeated key replaces the value in place.
    bool replaced = false;
    if (const auto* key = as_string(kv[i])) {
      for (auto& [k, v] : dict.entries)
        if (const auto* s = as_string(k); s && *s == *key) {
          v = std::move(kv[i + 1]);
          replaced = true;
          break;
        }
    }
    if (!replaced) dict.entries.emplace_back(std::move(kv[i]), std::move(kv[i + 1]));
  }
}

void Unpickler::build(PickleValue& target, const PickleValue& state) {
  // BUILD sets instance state. The only instances here are dicts (OrderedDict keeps its
  // `_metadata` attribute this way); state None is a no-op.
  if (std::holds_alternative<std::monostate>(state)) return;
  auto* p = std::get_if<Object*>(&target);
  if (!p || (*p)->kind != Object::Kind::Dict) fail("BUILD on a " + type_name(target) + " is not supported");
  const Object* s = as_object(state, Object::Kind::Dict);
  if (!s) fail("BUILD with a " + type_name(state) + " state is not supported");
  for (const auto& [k, v] : s->entries) {
    const auto* name = as_string(k);
    if (!name) fail("BUILD with a non-string attribute name");
    (*p)->attributes.emplace_back(*name, v);
  }
}

// The opcodes by group, each group one member function that returns false for an opcode
// outside it: load() offers each opcode to the groups in turn.

bool Unpickler::run_stack_op(std::uint8_t op) {
  switch (op) {
    case PROTO:
      if (u8() > 5) fail("pickle protocol newer than 5");
      return true;
    case FRAME: uint_le(8); return true;  // framing is only a read-ahead hint
    case MARK:
      if (marks_.size() >= kMaxStack) fail("too many MARKs");
      marks_.push_back(stack_.size());
      return true;
    case POP: pop(); return true;
    case POP_MARK: pop_mark(); return true;
    case DUP: push(top()); return true;
    case BINPUT: memo_put(u8()); return true;
    case LONG_BINPUT: memo_put(uint_le(4)); return true;
    case MEMOIZE: memo_put(memo_.size()); return true;
    case BINGET: push(memo_get(u8())); return true;
    case LONG_BINGET: push(memo_get(uint_le(4))); return true;
    default: return false;
  }
}

bool Unpickler::push_scalar(std::uint8_t op) {
  switch (op) {
    case NONE: push(std::monostate{}); return true;
    case NEWTRUE: push(true); return true;
    case NEWFALSE: push(false); return true;
    case BININT: push(static_cast<std::int64_t>(static_cast<std::int32_t>(uint_le(4)))); return true;
    case BININT1: push(static_cast<std::int64_t>(u8())); return true;
    case BININT2: push(static_cast<std::int64_t>(uint_le(2))); return true;
    case LONG1:
    case LONG4: {
      const auto bytes = take(op == LONG1 ? u8() : uint_le(4));
      std::int64_t v;
      if (long_to_int64(bytes, v)) {
        push(v);
      } else {
        Object* big = arena_.make(Object::Kind::BigInt);
        big->bytes = std::string(bytes);
        push(big);
      }
      return true;
    }
    case BINFLOAT: {
      // Big-endian IEEE double.
      std::uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | u8();
      push(std::bit_cast<double>(bits));
      return true;
    }
    case BINUNICODE: push(std::string(take(uint_le(4)))); return true;
    case SHORT_BINUNICODE: push(std::string(take(u8()))); return true;
    case BINUNICODE8: push(std::string(take(uint_le(8)))); return true;
    case BINSTRING: push(std::string(take(uint_le(4)))); return true;
    case SHORT_BINSTRING: push(std::string(take(u8()))); return true;
    case BINBYTES:
    case SHORT_BINBYTES:
    case BINBYTES8: {
      Object* b = arena_.make(Object::Kind::Bytes);
      b->bytes = std::string(take(op == SHORT_BINBYTES ? u8() : uint_le(op == BINBYTES ? 4 : 8)));
      push(b);
      return true;
    }
    default: return false;
  }
}

bool Unpickler::make_container(std::uint8_t op) {
  switch (op) {
    case EMPTY_TUPLE: push(arena_.make(Object::Kind::Tuple)); return true;
    case EMPTY_LIST: push(arena_.make(Object::Kind::List)); return true;
    case EMPTY_DICT: push(arena_.make(Object::Kind::Dict)); return true;
    case EMPTY_SET: push(arena_.make(Object::Kind::List)); return true;  // a set is kept as a list
    case TUPLE:
    case LIST:
    case FROZENSET: {
      Object* t = arena_.make(op == TUPLE ? Object::Kind::Tuple : Object::Kind::List);
      t->items = pop_mark();
      push(t);
      return true;
    }
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
      Object* t = arena_.make(Object::Kind::Tuple);
      t->items.resize(op - TUPLE1 + 1);
      for (auto it = t->items.rbegin(); it != t->items.rend(); ++it) *it = pop();
      push(t);
      return true;
    }
    case DICT: {
      Object* d = arena_.make(Object::Kind::Dict);
      auto kv = pop_mark();
      set_items(*d, kv);
      push(d);
      return true;
    }
    default: return false;
  }
}

bool Unpickler::fill_container(std::uint8_t op) {
  switch (op) {
    case APPEND: {
      PickleValue v = pop();
      container(top(), Object::Kind::List, "APPEND")->items.push_back(std::move(v));
      return true;
    }
    case APPENDS:
    case ADDITEMS: {
      auto items = pop_mark();
      auto& list = container(top(), Object::Kind::List, "APPENDS")->items;
      for (auto& v : items) list.push_back(std::move(v));
      return true;
    }
    case SETITEM: {
      std::vector<PickleValue> kv(2);
      kv[1] = pop();
      kv[0] = pop();
      set_items(*container(top(), Object::Kind::Dict, "SETITEM"), kv);
      return true;
    }
    case SETITEMS: {
      auto kv = pop_mark();
      set_items(*container(top(), Object::Kind::Dict, "SETITEMS"), kv);
      return true;
    }
    default: return false;
  }
}

bool Unpickler::run_object_op(std::uint8_t op) {
  switch (op) {
    case GLOBAL:
    case STACK_GLOBAL: push_global(op); return true;
    case REDUCE:
    case NEWOBJ: reduce(op); return true;
    case BUILD: {
      PickleValue state = pop();
      build(top(), state);
      return true;
    }
    case BINPERSID: persistent_load(); return true;
    default: return false;
  }
}

void Unpickler::push_global(std::uint8_t op) {
  std::string module, name;
  if (op == GLOBAL) {
    module = line();
    name = line();
  } else {
    PickleValue n = pop(), m = pop();
    if (!as_string(m) || !as_string(n)) fail("STACK_GLOBAL needs two strings");
    module = *as_string(m);
    name = *as_string(n);
  }
  // The heart of the safety: anything not allowlisted is refused before it could be
  // used, with its name in the message (this is where `posix.system` ends).
  if (!hooks_.allow_global(module, name))
    fail(
        fmt::format("refused global '{}.{}': only tensor rebuild functions, storages, OrderedDict and "
                    "plain containers are allowed (this file may try to run code)",
                    module, name));
  Object* g = arena_.make(Object::Kind::Global);
  g->module = std::move(module);
  g->name = std::move(name);
  push(g);
}

void Unpickler::reduce(std::uint8_t op) {
  PickleValue args = pop();
  PickleValue callable = pop();
  const Object* fn = as_object(callable, Object::Kind::Global);
  if (!fn) fail(std::string(op == REDUCE ? "REDUCE" : "NEWOBJ") + " on a " + type_name(callable));
  const Object* tuple = as_object(args, Object::Kind::Tuple);
  if (!tuple) fail("REDUCE arguments are a " + type_name(args) + ", not a tuple");
  try {
    push(hooks_.call(arena_, *fn, tuple->items));
  } catch (const std::invalid_argument& e) {  // hooks say what is malformed
    fail(e.what());
  }
}

void Unpickler::persistent_load() {
  PickleValue pid = pop();
  if (!hooks_.persistent_load) fail("persistent id without a loader");
  try {
    push(hooks_.persistent_load(arena_, pid));
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
}

PickleValue Unpickler::stop() {
  PickleValue v = pop();
  if (!stack_.empty() || !marks_.empty()) fail("STOP with values left on the stack");
  return v;
}

PickleValue Unpickler::load() {
  stack_.clear();
  marks_.clear();
  memo_.clear();
  memo_set_.clear();
  try {
    for (;;) {
      op_start_ = pos_;
      const std::uint8_t op = u8();
      if (op == STOP) return stop();
      if (!run_stack_op(op) && !push_scalar(op) && !make_container(op) && !fill_container(op) && !run_object_op(op))
        fail(
            fmt::format("unsupported pickle opcode 0x{:02x} (torch.save writes protocol 2; INST/OBJ and text "
                        "opcodes are not accepted)",
                        op));
    }
  } catch (const std::length_error& e) {
    fail(e.what());
  } catch (const std::bad_alloc&) {
    fail("out of memory");
  }
}

}  // namespace coughkit::checkpoint
