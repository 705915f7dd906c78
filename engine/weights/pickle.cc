#include "engine/weights/pickle.h"

#include <cstring>
#include <deque>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace gander::engine::weights_internal {
namespace {

// The callables and classes a state dict may name.
enum class Global { kOrderedDict, kRebuildTensorV2, kRebuildParameter, kStorageType };

struct Obj {
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
    kTensor
  };

  explicit Obj(Kind k) : kind(k) {}

  Kind kind;
  int64_t integer = 0;                   // kBool, kInt
  double real = 0;                       // kFloat
  std::string text;                      // kString; kGlobal: "module.name"; kStorage: key
  std::vector<Obj*> items;               // kTuple, kList; kDict: key, value, key, value, ...
  Global global = Global::kOrderedDict;  // kGlobal
  DType dtype = DType::kF32;             // kGlobal (storage type), kStorage, kTensor
  int64_t numel = 0;                     // kStorage
  // kTensor:
  const Obj* storage = nullptr;
  int64_t storage_offset = 0;
  std::vector<int64_t> shape, stride;
};

absl::string_view KindName(Obj::Kind kind) {
  switch (kind) {
    case Obj::Kind::kNone:
      return "None";
    case Obj::Kind::kBool:
      return "bool";
    case Obj::Kind::kInt:
      return "int";
    case Obj::Kind::kFloat:
      return "float";
    case Obj::Kind::kString:
      return "str";
    case Obj::Kind::kTuple:
      return "tuple";
    case Obj::Kind::kList:
      return "list";
    case Obj::Kind::kDict:
      return "dict";
    case Obj::Kind::kGlobal:
      return "global";
    case Obj::Kind::kStorage:
      return "storage";
    case Obj::Kind::kTensor:
      return "tensor";
  }
  return "?";
}

class Machine {
 public:
  explicit Machine(absl::Span<const uint8_t> data) : data_(data) {}

  absl::StatusOr<std::vector<PickledTensor>> Run();

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("data.pkl byte offset ", op_offset_, ": ", what));
  }

  Obj* New(Obj::Kind kind) {
    objects_.emplace_back(kind);
    return &objects_.back();
  }

  // Reads n bytes at the cursor.
  absl::Status Read(size_t n, const uint8_t** bytes) {
    if (data_.size() - pos_ < n) {
      return Error(absl::StrCat("truncated: opcode needs ", n, " more bytes, ", data_.size() - pos_,
                                " left"));
    }
    *bytes = data_.data() + pos_;
    pos_ += n;
    return absl::OkStatus();
  }
  absl::Status ReadUint(size_t n, uint64_t* value) {
    const uint8_t* bytes = nullptr;
    absl::Status status = Read(n, &bytes);
    if (!status.ok()) return status;
    uint64_t result = 0;
    for (size_t i = 0; i < n; ++i) result |= static_cast<uint64_t>(bytes[i]) << (8 * i);
    *value = result;
    return absl::OkStatus();
  }
  absl::Status ReadLine(std::string* line) {
    const size_t start = pos_;
    while (pos_ < data_.size() && data_[pos_] != '\n') {
      if (pos_ - start > 256) return Error("GLOBAL name longer than 256 bytes");
      ++pos_;
    }
    if (pos_ >= data_.size()) return Error("truncated GLOBAL name");
    line->assign(reinterpret_cast<const char*>(data_.data()) + start, pos_ - start);
    ++pos_;  // '\n'
    return absl::OkStatus();
  }

  size_t Fence() const { return marks_.empty() ? 0 : marks_.back(); }
  absl::Status Pop(Obj** obj) {
    if (stack_.size() <= Fence()) return Error("pickle stack underflow");
    *obj = stack_.back();
    stack_.pop_back();
    return absl::OkStatus();
  }
  absl::Status Top(Obj** obj) {
    if (stack_.size() <= Fence()) return Error("pickle stack underflow");
    *obj = stack_.back();
    return absl::OkStatus();
  }
  absl::Status PopToMark(std::vector<Obj*>* items) {
    if (marks_.empty()) return Error("no MARK to pop to");
    const size_t mark = marks_.back();
    marks_.pop_back();
    items->assign(stack_.begin() + mark, stack_.end());
    stack_.resize(mark);
    return absl::OkStatus();
  }
  void Push(Obj* obj) { stack_.push_back(obj); }

  absl::Status PushString(size_t length_bytes);
  absl::Status PushInt(int64_t value) {
    Obj* obj = New(Obj::Kind::kInt);
    obj->integer = value;
    Push(obj);
    return absl::OkStatus();
  }
  absl::Status MakeTuple(size_t n);
  absl::Status DoGlobal();
  absl::Status DoReduce();
  absl::Status DoPersistentId();
  absl::Status DoBuild();
  absl::Status AddToDict(Obj* dict, const std::vector<Obj*>& items);
  absl::Status Memoize(uint64_t index) {
    Obj* top = nullptr;
    absl::Status status = Top(&top);
    if (!status.ok()) return status;
    memo_[index] = top;
    return absl::OkStatus();
  }
  absl::Status MemoGet(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) return Error(absl::StrCat("memo entry ", index, " was never stored"));
    Push(it->second);
    return absl::OkStatus();
  }
  absl::Status IntTuple(const Obj* obj, absl::string_view what, std::vector<int64_t>* out);
  absl::StatusOr<std::vector<PickledTensor>> CollectStateDict(const Obj* root);

  absl::Span<const uint8_t> data_;
  size_t pos_ = 0;
  size_t op_offset_ = 0;
  std::deque<Obj> objects_;  // every object; stable addresses, flat destruction
  std::vector<Obj*> stack_;
  std::vector<size_t> marks_;  // stack sizes at each open MARK
  absl::flat_hash_map<uint64_t, Obj*> memo_;
};

absl::Status Machine::PushString(size_t length_bytes) {
  uint64_t length = 0;
  absl::Status status = ReadUint(length_bytes, &length);
  if (!status.ok()) return status;
  if (length > data_.size() - pos_) {
    return Error(
        absl::StrCat("truncated: string of ", length, " bytes, ", data_.size() - pos_, " left"));
  }
  const uint8_t* bytes = nullptr;
  status = Read(length, &bytes);
  if (!status.ok()) return status;
  Obj* obj = New(Obj::Kind::kString);
  obj->text.assign(reinterpret_cast<const char*>(bytes), length);
  Push(obj);
  return absl::OkStatus();
}

absl::Status Machine::MakeTuple(size_t n) {
  if (stack_.size() < Fence() + n) return Error("pickle stack underflow");
  Obj* tuple = New(Obj::Kind::kTuple);
  tuple->items.assign(stack_.end() - n, stack_.end());
  stack_.resize(stack_.size() - n);
  Push(tuple);
  return absl::OkStatus();
}

absl::Status Machine::DoGlobal() {
  std::string module, name;
  absl::Status status = ReadLine(&module);
  if (!status.ok()) return status;
  status = ReadLine(&name);
  if (!status.ok()) return status;
  Obj* obj = New(Obj::Kind::kGlobal);
  obj->text = absl::StrCat(module, ".", name);
  if (module == "collections" && name == "OrderedDict") {
    obj->global = Global::kOrderedDict;
  } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
    obj->global = Global::kRebuildTensorV2;
  } else if (module == "torch._utils" &&
             (name == "_rebuild_parameter" || name == "_rebuild_parameter_with_state")) {
    obj->global = Global::kRebuildParameter;
  } else if (module == "torch" && name == "BFloat16Storage") {
    obj->global = Global::kStorageType;
    obj->dtype = DType::kBF16;
  } else if (module == "torch" && name == "HalfStorage") {
    obj->global = Global::kStorageType;
    obj->dtype = DType::kF16;
  } else if (module == "torch" && name == "FloatStorage") {
    obj->global = Global::kStorageType;
    obj->dtype = DType::kF32;
  } else if (module == "torch" && absl::EndsWith(name, "Storage")) {
    return Error(absl::StrCat("unsupported tensor storage type 'torch.", name,
                              "' (supported: BFloat16Storage, HalfStorage, FloatStorage)"));
  } else {
    return Error(absl::StrCat("unsupported pickle global '", obj->text,
                              "' (a state dict of tensors uses only collections.OrderedDict and "
                              "torch._utils._rebuild_tensor_v2)"));
  }
  Push(obj);
  return absl::OkStatus();
}

absl::Status Machine::IntTuple(const Obj* obj, absl::string_view what, std::vector<int64_t>* out) {
  if (obj->kind != Obj::Kind::kTuple) {
    return Error(absl::StrCat("tensor ", what, " is a ", KindName(obj->kind), ", not a tuple"));
  }
  if (obj->items.size() > 16) {
    return Error(absl::StrCat("tensor ", what, " has ", obj->items.size(), " dimensions"));
  }
  out->clear();
  for (const Obj* item : obj->items) {
    if (item->kind != Obj::Kind::kInt) {
      return Error(absl::StrCat("tensor ", what, " holds a ", KindName(item->kind)));
    }
    out->push_back(item->integer);
  }
  return absl::OkStatus();
}

absl::Status Machine::DoReduce() {
  Obj* args = nullptr;
  Obj* callable = nullptr;
  absl::Status status = Pop(&args);
  if (!status.ok()) return status;
  status = Pop(&callable);
  if (!status.ok()) return status;
  if (callable->kind != Obj::Kind::kGlobal) {
    return Error(absl::StrCat("REDUCE calls a ", KindName(callable->kind)));
  }
  if (args->kind != Obj::Kind::kTuple) {
    return Error(absl::StrCat("REDUCE of '", callable->text, "' with a ", KindName(args->kind),
                              " as arguments"));
  }
  const std::vector<Obj*>& a = args->items;
  switch (callable->global) {
    case Global::kOrderedDict:
      if (!a.empty()) return Error("collections.OrderedDict called with arguments");
      Push(New(Obj::Kind::kDict));
      return absl::OkStatus();
    case Global::kRebuildParameter:
      // (data, requires_grad, backward_hooks[, state]): the data is the tensor.
      if (a.size() < 3 || a.size() > 4 || a[0]->kind != Obj::Kind::kTensor) {
        return Error("torch._utils._rebuild_parameter: expected (tensor, bool, hooks)");
      }
      Push(a[0]);
      return absl::OkStatus();
    case Global::kRebuildTensorV2: {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.size() != 6 && a.size() != 7) {
        return Error(absl::StrCat("torch._utils._rebuild_tensor_v2 called with ", a.size(),
                                  " arguments, expected 6 or 7"));
      }
      if (a[0]->kind != Obj::Kind::kStorage) {
        return Error(absl::StrCat("tensor storage is a ", KindName(a[0]->kind)));
      }
      if (a[1]->kind != Obj::Kind::kInt || a[1]->integer < 0) {
        return Error("tensor storage offset is not a non-negative int");
      }
      Obj* tensor = New(Obj::Kind::kTensor);
      tensor->storage = a[0];
      tensor->dtype = a[0]->dtype;
      tensor->storage_offset = a[1]->integer;
      status = IntTuple(a[2], "size", &tensor->shape);
      if (!status.ok()) return status;
      status = IntTuple(a[3], "stride", &tensor->stride);
      if (!status.ok()) return status;
      if (tensor->shape.size() != tensor->stride.size()) {
        return Error(absl::StrCat("tensor size has ", tensor->shape.size(),
                                  " dimensions but stride has ", tensor->stride.size()));
      }
      Push(tensor);
      return absl::OkStatus();
    }
    case Global::kStorageType:
      return Error(absl::StrCat("REDUCE calls the storage type '", callable->text, "'"));
  }
  return Error("REDUCE of an unknown global");
}

absl::Status Machine::DoPersistentId() {
  Obj* pid = nullptr;
  absl::Status status = Pop(&pid);
  if (!status.ok()) return status;
  const std::vector<Obj*>& p = pid->items;
  if (pid->kind != Obj::Kind::kTuple || p.size() != 5 || p[0]->kind != Obj::Kind::kString ||
      p[0]->text != "storage") {
    return Error("persistent id is not ('storage', type, key, location, numel)");
  }
  if (p[1]->kind != Obj::Kind::kGlobal || p[1]->global != Global::kStorageType) {
    return Error("persistent id names no storage type");
  }
  if (p[2]->kind != Obj::Kind::kString || p[3]->kind != Obj::Kind::kString) {
    return Error("storage key or location is not a string");
  }
  if (p[4]->kind != Obj::Kind::kInt || p[4]->integer < 0) {
    return Error("storage size is not a non-negative int");
  }
  Obj* storage = New(Obj::Kind::kStorage);
  storage->dtype = p[1]->dtype;
  storage->text = p[2]->text;
  storage->numel = p[4]->integer;
  Push(storage);
  return absl::OkStatus();
}

absl::Status Machine::DoBuild() {
  Obj* state = nullptr;
  Obj* target = nullptr;
  absl::Status status = Pop(&state);
  if (!status.ok()) return status;
  status = Top(&target);
  if (!status.ok()) return status;
  // An OrderedDict's state is its attribute dict (state_dict()'s `_metadata`,
  // module versions): irrelevant to the tensors.
  if (target->kind != Obj::Kind::kDict) {
    return Error(absl::StrCat("BUILD on a ", KindName(target->kind)));
  }
  return absl::OkStatus();
}

absl::Status Machine::AddToDict(Obj* dict, const std::vector<Obj*>& items) {
  if (dict->kind != Obj::Kind::kDict) {
    return Error(absl::StrCat("SETITEM on a ", KindName(dict->kind)));
  }
  if (items.size() % 2 != 0) return Error("SETITEMS with an odd number of items");
  dict->items.insert(dict->items.end(), items.begin(), items.end());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PickledTensor>> Machine::Run() {
  if (data_.size() > kMaxPickleBytes) {
    return absl::InvalidArgumentError(absl::StrCat("data.pkl is ", data_.size(),
                                                   " bytes, more than a state dict needs (",
                                                   kMaxPickleBytes, ")"));
  }
  absl::Status status;
  while (true) {
    op_offset_ = pos_;
    if (pos_ >= data_.size()) return Error("truncated: no STOP opcode");
    const uint8_t op = data_[pos_++];
    uint64_t u = 0;
    switch (op) {
      case 0x80:  // PROTO
        status = ReadUint(1, &u);
        if (status.ok() && u > 5) status = Error(absl::StrCat("unknown pickle protocol ", u));
        break;
      case 0x95:  // FRAME: a length hint only
        status = ReadUint(8, &u);
        break;
      case '}':  // EMPTY_DICT
        Push(New(Obj::Kind::kDict));
        break;
      case ']':  // EMPTY_LIST
        Push(New(Obj::Kind::kList));
        break;
      case ')':  // EMPTY_TUPLE
        Push(New(Obj::Kind::kTuple));
        break;
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case 'X':  // BINUNICODE
        status = PushString(4);
        break;
      case 0x8c:  // SHORT_BINUNICODE
        status = PushString(1);
        break;
      case 0x8d:  // BINUNICODE8
        status = PushString(8);
        break;
      case 'q':  // BINPUT
        status = ReadUint(1, &u);
        if (status.ok()) status = Memoize(u);
        break;
      case 'r':  // LONG_BINPUT
        status = ReadUint(4, &u);
        if (status.ok()) status = Memoize(u);
        break;
      case 0x94:  // MEMOIZE
        status = Memoize(memo_.size());
        break;
      case 'h':  // BINGET
        status = ReadUint(1, &u);
        if (status.ok()) status = MemoGet(u);
        break;
      case 'j':  // LONG_BINGET
        status = ReadUint(4, &u);
        if (status.ok()) status = MemoGet(u);
        break;
      case 'K':  // BININT1
        status = ReadUint(1, &u);
        if (status.ok()) status = PushInt(static_cast<int64_t>(u));
        break;
      case 'M':  // BININT2
        status = ReadUint(2, &u);
        if (status.ok()) status = PushInt(static_cast<int64_t>(u));
        break;
      case 'J':  // BININT (signed 32-bit)
        status = ReadUint(4, &u);
        if (status.ok()) status = PushInt(static_cast<int32_t>(static_cast<uint32_t>(u)));
        break;
      case 0x8a: {  // LONG1: n little-endian two's complement bytes
        status = ReadUint(1, &u);
        if (!status.ok()) break;
        const size_t n = u;
        if (n > 8) {
          status = Error(absl::StrCat("LONG1 integer of ", n, " bytes does not fit 64 bits"));
          break;
        }
        status = ReadUint(n, &u);
        if (!status.ok()) break;
        int64_t value = static_cast<int64_t>(u);
        if (n > 0 && n < 8 && (u >> (8 * n - 1)) & 1) value -= static_cast<int64_t>(1) << (8 * n);
        status = PushInt(value);
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const uint8_t* bytes = nullptr;
        status = Read(8, &bytes);
        if (!status.ok()) break;
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | bytes[i];
        Obj* obj = New(Obj::Kind::kFloat);
        std::memcpy(&obj->real, &bits, sizeof(bits));
        Push(obj);
        break;
      }
      case 0x88:    // NEWTRUE
      case 0x89: {  // NEWFALSE
        Obj* obj = New(Obj::Kind::kBool);
        obj->integer = op == 0x88 ? 1 : 0;
        Push(obj);
        break;
      }
      case 'N':  // NONE
        Push(New(Obj::Kind::kNone));
        break;
      case 't': {  // TUPLE
        std::vector<Obj*> items;
        status = PopToMark(&items);
        if (!status.ok()) break;
        Obj* tuple = New(Obj::Kind::kTuple);
        tuple->items = std::move(items);
        Push(tuple);
        break;
      }
      case 0x85:  // TUPLE1
        status = MakeTuple(1);
        break;
      case 0x86:  // TUPLE2
        status = MakeTuple(2);
        break;
      case 0x87:  // TUPLE3
        status = MakeTuple(3);
        break;
      case 's': {  // SETITEM
        Obj* value = nullptr;
        Obj* key = nullptr;
        Obj* dict = nullptr;
        status = Pop(&value);
        if (status.ok()) status = Pop(&key);
        if (status.ok()) status = Top(&dict);
        if (status.ok()) status = AddToDict(dict, {key, value});
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Obj*> items;
        Obj* dict = nullptr;
        status = PopToMark(&items);
        if (status.ok()) status = Top(&dict);
        if (status.ok()) status = AddToDict(dict, items);
        break;
      }
      case 'a': {  // APPEND
        Obj* value = nullptr;
        Obj* list = nullptr;
        status = Pop(&value);
        if (status.ok()) status = Top(&list);
        if (!status.ok()) break;
        if (list->kind != Obj::Kind::kList) {
          status = Error(absl::StrCat("APPEND to a ", KindName(list->kind)));
          break;
        }
        list->items.push_back(value);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<Obj*> items;
        Obj* list = nullptr;
        status = PopToMark(&items);
        if (status.ok()) status = Top(&list);
        if (!status.ok()) break;
        if (list->kind != Obj::Kind::kList) {
          status = Error(absl::StrCat("APPENDS to a ", KindName(list->kind)));
          break;
        }
        list->items.insert(list->items.end(), items.begin(), items.end());
        break;
      }
      case 'c':  // GLOBAL
        status = DoGlobal();
        break;
      case 'R':  // REDUCE
        status = DoReduce();
        break;
      case 'b':  // BUILD
        status = DoBuild();
        break;
      case 'Q':  // BINPERSID
        status = DoPersistentId();
        break;
      case '.': {  // STOP
        Obj* root = nullptr;
        status = Pop(&root);
        if (!status.ok()) return status;
        return CollectStateDict(root);
      }
      default:
        return Error(absl::StrCat("unsupported pickle opcode 0x", absl::Hex(op, absl::kZeroPad2)));
    }
    if (!status.ok()) return status;
  }
}

absl::StatusOr<std::vector<PickledTensor>> Machine::CollectStateDict(const Obj* root) {
  if (root->kind != Obj::Kind::kDict) {
    return Error(absl::StrCat("the pickle holds a ", KindName(root->kind), ", not a state dict"));
  }
  std::vector<PickledTensor> tensors;
  tensors.reserve(root->items.size() / 2);
  for (size_t i = 0; i + 1 < root->items.size(); i += 2) {
    const Obj* key = root->items[i];
    const Obj* value = root->items[i + 1];
    if (key->kind != Obj::Kind::kString) {
      return Error(
          absl::StrCat("state dict key ", i / 2, " is a ", KindName(key->kind), ", not a string"));
    }
    if (value->kind != Obj::Kind::kTensor) {
      return Error(absl::StrCat("state dict entry '", key->text, "' is a ", KindName(value->kind),
                                ", not a tensor"));
    }
    PickledTensor tensor;
    tensor.name = key->text;
    tensor.dtype = value->dtype;
    tensor.storage_key = value->storage->text;
    tensor.storage_numel = value->storage->numel;
    tensor.storage_offset = value->storage_offset;
    tensor.shape = value->shape;
    tensor.stride = value->stride;
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

}  // namespace

absl::StatusOr<std::vector<PickledTensor>> ParseStateDictPickle(absl::Span<const uint8_t> pickle) {
  return Machine(pickle).Run();
}

}  // namespace gander::engine::weights_internal
