// The restricted reader and the writer of a state_dict's pickle. The opcodes are those of
// Python's pickle module (Lib/pickletools.py documents each); torch.save's use of them (persistent
// ids for storages, _rebuild_tensor_v2) is that of torch/serialization.py.
#include "dcgan/interop/pickle.h"

#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::interop {
namespace {

// The torch.<class> storage classes a state_dict may use, and each one's element size in bytes
// (0 for a name that is none of them).
size_t storage_element_size(const std::string& storage_class) {
  static const std::map<std::string, size_t> kSizes = {
      {"FloatStorage", 4}, {"DoubleStorage", 8}, {"HalfStorage", 2},   {"BFloat16Storage", 2},
      {"LongStorage", 8},  {"IntStorage", 4},    {"ShortStorage", 2},  {"CharStorage", 1},
      {"ByteStorage", 1},  {"BoolStorage", 1},   {"UntypedStorage", 1}};
  const auto it = kSizes.find(storage_class);
  return it == kSizes.end() ? 0 : it->second;
}

// Pickle opcodes used here (protocol 2 writes; the reader also takes protocol 4/5 framing).
namespace op {
constexpr char kMark = '(', kStop = '.', kBinInt = 'J', kBinInt1 = 'K', kBinInt2 = 'M', kNone = 'N',
               kBinPersId = 'Q', kReduce = 'R', kBinUnicode = 'X', kAppend = 'a', kBuild = 'b',
               kGlobal = 'c', kEmptyDict = '}', kAppends = 'e', kBinGet = 'h', kLongBinGet = 'j',
               kEmptyList = ']', kBinPut = 'q', kLongBinPut = 'r', kSetItem = 's', kTuple = 't',
               kEmptyTuple = ')', kSetItems = 'u', kBinFloat = 'G';
constexpr auto kProto = static_cast<char>(0x80), kTuple1 = static_cast<char>(0x85),
               kTuple2 = static_cast<char>(0x86), kTuple3 = static_cast<char>(0x87),
               kNewTrue = static_cast<char>(0x88), kNewFalse = static_cast<char>(0x89),
               kLong1 = static_cast<char>(0x8a), kShortBinUnicode = static_cast<char>(0x8c),
               kBinUnicode8 = static_cast<char>(0x8d), kEmptySet = static_cast<char>(0x8f),
               kStackGlobal = static_cast<char>(0x93), kMemoize = static_cast<char>(0x94),
               kFrame = static_cast<char>(0x95);
}  // namespace op

// ---------------------------------------------------------------------------------- writing

class PickleWriter {
 public:
  void raw(char c) { out_.push_back(c); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void text(const std::string& s) {
    raw(op::kBinUnicode);
    u32(static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void global(const char* module, const char* name) {
    raw(op::kGlobal);
    out_ += module;
    out_ += '\n';
    out_ += name;
    out_ += '\n';
  }
  void integer(int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      raw(op::kBinInt);
      u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
      return;
    }
    raw(op::kLong1);  // 8 bytes, little-endian two's complement
    raw(8);
    const auto u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  }
  void int_tuple(const std::vector<int64_t>& values) {
    raw(op::kMark);
    for (int64_t v : values) integer(v);
    raw(op::kTuple);
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    raw(op::kEmptyTuple);
    raw(op::kReduce);
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

// ---------------------------------------------------------------------------------- reading

// Values live in the unpickler's arena and refer to each other by pointer: a pickle may build
// cycles (a list appended to itself through the memo), which reference counts would leak.
struct Value;
using Ref = Value*;
struct Value {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kTuple,
    kList,
    kDict,
    kGlobal,
    kStorage,
    kTensor,
    kMark
  };
  Kind kind = Kind::kNone;
  int64_t integer = 0;     // kBool, kInt
  double real = 0;         // kFloat
  std::string text;        // kString; kGlobal: "module.name"
  std::vector<Ref> items;  // kTuple, kList; kDict: key, value, key, value, ...
  TensorRecord tensor;     // kTensor (its name is set from the dict's key); kStorage: the class
};

class Unpickler {
 public:
  Unpickler(std::string_view bytes, std::string origin) : in_(bytes), path_(std::move(origin)) {}

  Ref make(Value::Kind kind) {
    arena_.emplace_back();
    arena_.back().kind = kind;
    return &arena_.back();
  }

  Ref run() {
    for (;;) {
      const size_t at = pos_;
      const char code = static_cast<char>(byte());
      switch (code) {
        case op::kProto:
          if (byte() > 5) fail("pickle protocol above 5", at);
          break;
        case op::kFrame:
          take(8);
          break;
        case op::kMark:
          push(make(Value::Kind::kMark));
          break;
        case op::kStop:
          if (stack_.size() != 1) fail("the pickle does not end with one value", at);
          return stack_.back();
        case op::kNone:
          push(make(Value::Kind::kNone));
          break;
        case op::kNewTrue:
        case op::kNewFalse: {
          Ref v = make(Value::Kind::kBool);
          v->integer = code == op::kNewTrue;
          push(v);
          break;
        }
        case op::kBinInt:
          push_int(static_cast<int32_t>(little(4)));
          break;
        case op::kBinInt1:
          push_int(static_cast<int64_t>(little(1)));
          break;
        case op::kBinInt2:
          push_int(static_cast<int64_t>(little(2)));
          break;
        case op::kLong1: {
          const size_t n = byte();
          if (n > 8) fail("an integer wider than 64 bits", at);
          uint64_t u = n > 0 ? little(n) : 0;
          if (n > 0 && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~uint64_t{0} << (8 * n);  // sign
          push_int(static_cast<int64_t>(u));
          break;
        }
        case op::kBinFloat: {
          uint64_t u = 0;
          for (int i = 0; i < 8; ++i) u = (u << 8) | byte();  // big-endian
          Ref v = make(Value::Kind::kFloat);
          std::memcpy(&v->real, &u, sizeof u);
          push(v);
          break;
        }
        case op::kBinUnicode:
          push_string(take(little(4)));
          break;
        case op::kShortBinUnicode:
          push_string(take(byte()));
          break;
        case op::kBinUnicode8:
          push_string(take(little(8)));
          break;
        case op::kEmptyTuple:
          push(make(Value::Kind::kTuple));
          break;
        case op::kEmptyList:
          push(make(Value::Kind::kList));
          break;
        case op::kEmptyDict:
          push(make(Value::Kind::kDict));
          break;
        case op::kTuple: {
          Ref v = make(Value::Kind::kTuple);
          v->items = pop_to_mark(at);
          push(v);
          break;
        }
        case op::kTuple1:
        case op::kTuple2:
        case op::kTuple3: {
          const size_t n = static_cast<size_t>(code - op::kTuple1) + 1;
          Ref v = make(Value::Kind::kTuple);
          if (stack_.size() < n) fail("a tuple of missing values", at);
          v->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(v);
          break;
        }
        case op::kBinPut:
          memo_[little(1)] = top(at);
          break;
        case op::kLongBinPut:
          memo_[little(4)] = top(at);
          break;
        case op::kMemoize:
          memo_[memo_.size()] = top(at);
          break;
        case op::kBinGet:
          push(memo(little(1), at));
          break;
        case op::kLongBinGet:
          push(memo(little(4), at));
          break;
        case op::kGlobal: {
          std::string module = line(at);
          push(global(module + "." + line(at), at));
          break;
        }
        case op::kStackGlobal: {
          Ref name = pop(at);
          Ref module = pop(at);
          if (name->kind != Value::Kind::kString || module->kind != Value::Kind::kString)
            fail("STACK_GLOBAL of non-strings", at);
          push(global(module->text + "." + name->text, at));
          break;
        }
        case op::kBinPersId:
          push(storage(pop(at), at));
          break;
        case op::kReduce: {
          Ref args = pop(at);
          Ref callable = pop(at);
          push(reduce(*callable, *args, at));
          break;
        }
        case op::kBuild: {  // an OrderedDict's __dict__ (state_dict's _metadata): not needed
          pop(at);
          const Value::Kind kind = top(at)->kind;
          if (kind != Value::Kind::kDict && kind != Value::Kind::kTensor)
            fail("BUILD of an object other than a dict or tensor", at);
          break;
        }
        case op::kSetItem: {
          Ref value = pop(at);
          Ref key = pop(at);
          dict_top(at)->items.insert(dict_top(at)->items.end(), {key, value});
          break;
        }
        case op::kSetItems: {
          std::vector<Ref> pairs = pop_to_mark(at);
          if (pairs.size() % 2 != 0) fail("SETITEMS with an odd number of values", at);
          Ref dict = dict_top(at);
          dict->items.insert(dict->items.end(), pairs.begin(), pairs.end());
          break;
        }
        case op::kAppend: {
          Ref value = pop(at);
          list_top(at)->items.push_back(value);
          break;
        }
        case op::kAppends: {
          std::vector<Ref> values = pop_to_mark(at);
          Ref list = list_top(at);
          list->items.insert(list->items.end(), values.begin(), values.end());
          break;
        }
        case op::kEmptySet:
        default:
          fail(
              dcgan::str("pickle opcode 0x", std::hex, static_cast<int>(static_cast<uint8_t>(code)),
                         " is not used by state_dicts"),
              at);
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what, size_t at) const {
    throw DataError(dcgan::str(path_, ": ", what, " (data.pkl byte ", at,
                               ") HINT: save model.state_dict() with torch.save"));
  }

  uint8_t byte() {
    if (pos_ >= in_.size()) fail("the pickle ends early", pos_);
    return static_cast<uint8_t>(in_[pos_++]);
  }
  std::string take(uint64_t n) {
    if (n > in_.size() - pos_) fail("the pickle ends early", pos_);
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  uint64_t little(size_t n) {
    uint64_t u = 0;
    for (size_t i = 0; i < n; ++i) u |= static_cast<uint64_t>(byte()) << (8 * i);
    return u;
  }
  std::string line(size_t at) {
    const size_t end = in_.find('\n', pos_);
    if (end == std::string_view::npos) fail("GLOBAL without its newline", at);
    std::string s(in_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }

  void push(Ref v) { stack_.push_back(std::move(v)); }
  void push_int(int64_t i) {
    Ref v = make(Value::Kind::kInt);
    v->integer = i;
    push(v);
  }
  void push_string(std::string s) {
    Ref v = make(Value::Kind::kString);
    v->text = std::move(s);
    push(v);
  }
  Ref pop(size_t at) {
    if (stack_.empty() || stack_.back()->kind == Value::Kind::kMark) fail("a missing value", at);
    Ref v = stack_.back();
    stack_.pop_back();
    return v;
  }
  const Ref& top(size_t at) const {
    if (stack_.empty()) fail("a missing value", at);
    return stack_.back();
  }
  Ref dict_top(size_t at) const {
    if (top(at)->kind != Value::Kind::kDict) fail("SETITEM on a value that is not a dict", at);
    return top(at);
  }
  Ref list_top(size_t at) const {
    if (top(at)->kind != Value::Kind::kList) fail("APPEND on a value that is not a list", at);
    return top(at);
  }
  std::vector<Ref> pop_to_mark(size_t at) {
    for (size_t i = stack_.size(); i-- > 0;) {
      if (stack_[i]->kind == Value::Kind::kMark) {
        std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(i) + 1, stack_.end());
        stack_.resize(i);
        return items;
      }
    }
    fail("a missing MARK", at);
  }
  Ref memo(uint64_t key, size_t at) const {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail(dcgan::str("memo key ", key, " was never put"), at);
    return it->second;
  }

  // The globals a state_dict needs; anything else is refused here, before it could be called.
  Ref global(const std::string& name, size_t at) {
    static const std::set<std::string> kAllowed = {
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state"};
    bool allowed = kAllowed.count(name) > 0;
    const std::string prefix = "torch.";
    allowed |= name.rfind(prefix, 0) == 0 && storage_element_size(name.substr(prefix.size())) > 0;
    if (!allowed) fail(dcgan::str("global '", name, "' is not allowed in a state_dict"), at);
    Ref v = make(Value::Kind::kGlobal);
    v->text = name;
    return v;
  }

  // ('storage', torch.<T>Storage, key, location, numel) -> the storage record data/<key>.
  Ref storage(const Ref& pid, size_t at) {
    const auto& p = pid->items;
    if (pid->kind != Value::Kind::kTuple || p.size() != 5 || p[0]->kind != Value::Kind::kString ||
        p[0]->text != "storage" || p[1]->kind != Value::Kind::kGlobal ||
        p[2]->kind != Value::Kind::kString || p[4]->kind != Value::Kind::kInt) {
      fail("a persistent id that is not a torch storage", at);
    }
    Ref v = make(Value::Kind::kStorage);
    v->tensor.storage_key = p[2]->text;
    v->tensor.storage_numel = p[4]->integer;
    const std::string prefix = "torch.";
    if (p[1]->text.rfind(prefix, 0) == 0 &&
        storage_element_size(p[1]->text.substr(prefix.size()))) {
      v->tensor.storage_class = p[1]->text.substr(prefix.size());
      if (v->tensor.storage_numel < 0) fail("a storage of negative size", at);
      return v;
    }
    fail(dcgan::str("'", p[1]->text, "' is not a storage class"), at);
  }

  static std::vector<int64_t> ints(const Value& v) {
    std::vector<int64_t> out;
    for (const Ref& item : v.items) out.push_back(item->integer);
    return out;
  }
  static bool is_int_tuple(const Value& v) {
    if (v.kind != Value::Kind::kTuple) return false;
    for (const Ref& item : v.items)
      if (item->kind != Value::Kind::kInt) return false;
    return true;
  }

  Ref reduce(const Value& callable, const Value& args, size_t at) {
    if (callable.kind != Value::Kind::kGlobal || args.kind != Value::Kind::kTuple)
      fail("REDUCE of something other than an allowed global", at);
    const auto& a = args.items;
    if (callable.text == "collections.OrderedDict") {
      if (!a.empty()) fail("OrderedDict built from arguments", at);
      return make(Value::Kind::kDict);
    }
    if (callable.text == "torch._utils._rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.size() < 6 || a[0]->kind != Value::Kind::kStorage || a[1]->kind != Value::Kind::kInt ||
          !is_int_tuple(*a[2]) || !is_int_tuple(*a[3]) || a[2]->items.size() != a[3]->items.size())
        fail("_rebuild_tensor_v2 with unexpected arguments", at);
      const TensorRecord& storage = a[0]->tensor;
      const std::vector<int64_t> sizes = ints(*a[2]);
      const std::vector<int64_t> strides = ints(*a[3]);
      int64_t last = a[1]->integer;  // the furthest element the view reaches
      bool empty = false;
      for (size_t i = 0; i < sizes.size(); ++i) {
        if (sizes[i] < 0 || strides[i] < 0) fail("a negative tensor size or stride", at);
        empty |= sizes[i] == 0;
      }
      for (size_t i = 0; i < sizes.size() && !empty; ++i) {
        int64_t reach = 0;
        if (__builtin_mul_overflow(sizes[i] - 1, strides[i], &reach) ||
            __builtin_add_overflow(last, reach, &last))
          fail("a tensor view too large to address", at);
      }
      if (a[1]->integer < 0 || (!empty && last >= storage.storage_numel))
        fail(dcgan::str("a tensor view past the end of storage ", storage.storage_key), at);
      Ref v = make(Value::Kind::kTensor);
      v->tensor = storage;
      v->tensor.offset = a[1]->integer;
      v->tensor.sizes = sizes;
      v->tensor.strides = strides;
      return v;
    }
    // torch._utils._rebuild_parameter(data, requires_grad, hooks[, state]): the data.
    if (a.empty() || a[0]->kind != Value::Kind::kTensor)
      fail(dcgan::str(callable.text, " without a tensor"), at);
    return a[0];
  }

  std::string_view in_;
  size_t pos_ = 0;
  std::string path_;
  std::vector<Ref> stack_;
  std::map<uint64_t, Ref> memo_;
  std::deque<Value> arena_;  // every value made; a deque never moves them
};

}  // namespace

std::vector<TensorRecord> parse_state_dict_pickle(std::string_view pickle,
                                                  const std::string& origin) {
  Unpickler unpickler(pickle, origin);
  const Ref root = unpickler.run();
  if (root->kind != Value::Kind::kDict) {
    throw DataError(dcgan::str(origin, ": holds a pickled ",
                               root->kind == Value::Kind::kTensor ? "tensor" : "value",
                               ", not a state_dict (a dict of tensors)"));
  }
  std::vector<TensorRecord> out;
  for (size_t i = 0; i + 1 < root->items.size(); i += 2) {
    const Value& key = *root->items[i];
    const Value& value = *root->items[i + 1];
    if (key.kind != Value::Kind::kString || value.kind != Value::Kind::kTensor) {
      throw DataError(dcgan::str(
          origin, ": entry ", i / 2,
          key.kind == Value::Kind::kString ? dcgan::str(" '", key.text, "'") : std::string(),
          " is not a named tensor, so this is not a state_dict"));
    }
    out.push_back(value.tensor);
    out.back().name = key.text;
  }
  return out;
}

std::string state_dict_pickle(const std::vector<TensorRecord>& tensors) {
  PickleWriter p;
  p.raw(op::kProto);
  p.raw(2);
  p.empty_ordered_dict();
  if (!tensors.empty()) {
    p.raw(op::kMark);
    for (const TensorRecord& t : tensors) {
      p.text(t.name);
      p.global("torch._utils", "_rebuild_tensor_v2");
      p.raw(op::kMark);
      p.raw(op::kMark);  // the persistent id of the storage
      p.text("storage");
      p.global("torch", t.storage_class.c_str());
      p.text(t.storage_key);
      p.text("cpu");
      p.integer(t.storage_numel);
      p.raw(op::kTuple);
      p.raw(op::kBinPersId);
      p.integer(t.offset);
      p.int_tuple(t.sizes);
      p.int_tuple(t.strides);
      p.raw(op::kNewFalse);    // requires_grad
      p.empty_ordered_dict();  // backward hooks
      p.raw(op::kTuple);
      p.raw(op::kReduce);
    }
    p.raw(op::kSetItems);
  }
  p.raw(op::kStop);
  return p.bytes();
}

}  // namespace dcgan::interop
