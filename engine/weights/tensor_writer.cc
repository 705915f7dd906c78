#include "engine/weights/tensor_writer.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/weights/mapped_file.h"
#include "engine/weights/zip.h"

namespace gander::engine::weights_internal {
namespace {

constexpr uint32_t kMax32 = 0xffffffffu;

void PutLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Writes to "<path>.tmp.<pid>.<n>" and renames it to `path` on Commit(); the
// temporary file is removed if Commit() is never reached.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)) {
    static std::atomic<int> counter{0};
    temp_path_ = absl::StrCat(path_, ".tmp.", ::getpid(), ".", counter++);
  }
  ~AtomicFile() {
    if (file_ != nullptr) std::fclose(file_);
    if (!committed_) std::remove(temp_path_.c_str());
  }

  absl::Status Open() {
    file_ = std::fopen(temp_path_.c_str(), "wb");
    if (file_ == nullptr) return ErrnoToStatus(errno, "cannot create", temp_path_);
    return absl::OkStatus();
  }
  absl::Status Write(const void* data, size_t size) {
    if (size > 0 && std::fwrite(data, 1, size, file_) != size) {
      return ErrnoToStatus(errno, "cannot write", temp_path_);
    }
    offset_ += size;
    return absl::OkStatus();
  }
  absl::Status Write(const std::string& bytes) { return Write(bytes.data(), bytes.size()); }
  uint64_t offset() const { return offset_; }

  absl::Status Commit() {
    const int result = std::fclose(file_);
    file_ = nullptr;
    if (result != 0) return ErrnoToStatus(errno, "cannot write", temp_path_);
    if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
      return ErrnoToStatus(errno, "cannot rename to", path_);
    }
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

absl::Status CheckTensors(const std::vector<TensorToWrite>& tensors) {
  absl::flat_hash_set<absl::string_view> names;
  for (const TensorToWrite& t : tensors) {
    int64_t count;
    if (t.name.empty()) return absl::InvalidArgumentError("a tensor has an empty name");
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate tensor '", t.name, "'"));
    }
    if (!ElementCount(t.shape, &count)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name, "' has an invalid shape ", ShapeString(t.shape)));
    }
    if (!t.stride.empty() && t.stride.size() != t.shape.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name, "': stride and shape differ in length"));
    }
  }
  return absl::OkStatus();
}

uint64_t ByteSize(const TensorToWrite& t) {
  int64_t count = 1;
  ElementCount(t.shape, &count);
  return static_cast<uint64_t>(count) * DTypeSize(t.dtype);
}

absl::Status GetBytes(const TensorBytesFn& fn, const std::vector<TensorToWrite>& tensors,
                      size_t index, std::string* bytes) {
  bytes->clear();
  GANDER_RETURN_IF_ERROR(fn(index, bytes));
  if (bytes->size() != ByteSize(tensors[index])) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", tensors[index].name, "': ", bytes->size(), " bytes given, shape ",
                     ShapeString(tensors[index].shape), " of ", DTypeName(tensors[index].dtype),
                     " needs ", ByteSize(tensors[index])));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- pickle

class PickleWriter {
 public:
  std::string& out() { return out_; }

  void Op(uint8_t op) { out_.push_back(static_cast<char>(op)); }
  // Memoizes the top of the stack; returns its memo index.
  uint32_t Put() {
    const uint32_t index = memo_++;
    if (index < 256) {
      Op('q');
      PutLe(&out_, index, 1);
    } else {
      Op('r');
      PutLe(&out_, index, 4);
    }
    return index;
  }
  void Get(uint32_t index) {
    if (index < 256) {
      Op('h');
      PutLe(&out_, index, 1);
    } else {
      Op('j');
      PutLe(&out_, index, 4);
    }
  }
  void Global(absl::string_view module, absl::string_view name) {
    Op('c');
    absl::StrAppend(&out_, module, "\n", name, "\n");
  }
  void Unicode(absl::string_view text) {
    Op('X');
    PutLe(&out_, text.size(), 4);
    out_.append(text.data(), text.size());
  }
  void Int(int64_t value) {
    if (value >= 0 && value < 256) {
      Op('K');
      PutLe(&out_, value, 1);
    } else if (value >= 0 && value < 65536) {
      Op('M');
      PutLe(&out_, value, 2);
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
      Op('J');
      PutLe(&out_, static_cast<uint32_t>(value), 4);
    } else {
      Op(0x8a);  // LONG1, 8 bytes
      PutLe(&out_, 8, 1);
      PutLe(&out_, static_cast<uint64_t>(value), 8);
    }
  }
  void IntTuple(const std::vector<int64_t>& values) {
    if (values.empty()) {
      Op(')');
    } else if (values.size() <= 3) {
      for (int64_t v : values) Int(v);
      Op(static_cast<uint8_t>(0x84 + values.size()));  // TUPLE1..TUPLE3
    } else {
      Op('(');
      for (int64_t v : values) Int(v);
      Op('t');
    }
    Put();
  }

 private:
  std::string out_;
  uint32_t memo_ = 0;
};

absl::string_view StorageTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "FloatStorage";
    case DType::kBF16:
      return "BFloat16Storage";
    case DType::kF16:
      return "HalfStorage";
  }
  return "";
}

std::vector<int64_t> ContiguousStride(const std::vector<int64_t>& shape) {
  std::vector<int64_t> stride(shape.size());
  int64_t step = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    stride[i] = step;
    step *= shape[i];
  }
  return stride;
}

// The state dict pickle: OrderedDict([(name, _rebuild_tensor_v2(...)), ...]),
// storage i of tensor i, as torch.save writes it.
std::string StateDictPickle(const std::vector<TensorToWrite>& tensors) {
  PickleWriter p;
  p.Op(0x80);  // PROTO 2
  p.Op(2);
  p.Global("collections", "OrderedDict");
  const uint32_t ordered_dict = p.Put();
  p.Op(')');
  p.Op('R');
  p.Put();
  int64_t rebuild = -1, storage_word = -1, cpu = -1;
  int64_t storage_types[3] = {-1, -1, -1};
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorToWrite& t = tensors[i];
    if (i % 1000 == 0) p.Op('(');  // batches of SETITEMS, as pickle does
    p.Unicode(t.name);
    p.Put();
    if (rebuild < 0) {
      p.Global("torch._utils", "_rebuild_tensor_v2");
      rebuild = p.Put();
    } else {
      p.Get(rebuild);
    }
    p.Op('(');  // the arguments
    p.Op('(');  // the persistent id
    if (storage_word < 0) {
      p.Unicode("storage");
      storage_word = p.Put();
    } else {
      p.Get(storage_word);
    }
    int64_t& type = storage_types[static_cast<int>(t.dtype)];
    if (type < 0) {
      p.Global("torch", StorageTypeName(t.dtype));
      type = p.Put();
    } else {
      p.Get(type);
    }
    p.Unicode(absl::StrCat(i));
    p.Put();
    if (cpu < 0) {
      p.Unicode("cpu");
      cpu = p.Put();
    } else {
      p.Get(cpu);
    }
    int64_t count = 1;
    ElementCount(t.shape, &count);
    p.Int(count);
    p.Op('t');
    p.Put();
    p.Op('Q');  // BINPERSID
    p.Int(0);   // storage offset
    p.IntTuple(t.shape);
    p.IntTuple(t.stride.empty() ? ContiguousStride(t.shape) : t.stride);
    p.Op(0x89);  // requires_grad = False
    p.Get(ordered_dict);
    p.Op(')');
    p.Op('R');  // backward_hooks = OrderedDict()
    p.Put();
    p.Op('t');
    p.Put();
    p.Op('R');
    p.Put();
    if (i % 1000 == 999 || i + 1 == tensors.size()) p.Op('u');  // SETITEMS
  }
  p.Op('.');
  return std::move(p.out());
}

// ---------------------------------------------------------------- zip

struct WrittenEntry {
  std::string name;
  uint32_t crc = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
};

class ZipWriter {
 public:
  ZipWriter(AtomicFile* file, bool force_zip64) : file_(file), force_zip64_(force_zip64) {}

  // Writes one stored entry whose data starts 64-byte aligned.
  absl::Status Add(const std::string& name, const std::string& data) {
    WrittenEntry entry{name, Crc32(0, {reinterpret_cast<const uint8_t*>(data.data()), data.size()}),
                       data.size(), file_->offset()};
    const bool zip64_sizes = force_zip64_ || entry.size >= kMax32;
    std::string header;
    PutLe(&header, kZipLocalHeaderSignature, 4);
    PutLe(&header, zip64_sizes ? 45 : 20, 2);  // version needed
    PutLe(&header, 0, 2);                      // flags
    PutLe(&header, 0, 2);                      // method: stored
    PutLe(&header, 0, 2);                      // time 00:00:00
    PutLe(&header, 0x21, 2);                   // date 1980-01-01
    PutLe(&header, entry.crc, 4);
    PutLe(&header, zip64_sizes ? kMax32 : entry.size, 4);
    PutLe(&header, zip64_sizes ? kMax32 : entry.size, 4);
    PutLe(&header, name.size(), 2);
    std::string extra;
    if (zip64_sizes) {
      PutLe(&extra, 0x0001, 2);
      PutLe(&extra, 16, 2);
      PutLe(&extra, entry.size, 8);
      PutLe(&extra, entry.size, 8);
    }
    // Padding extra field ("FB", as torch writes) so the data is aligned.
    const uint64_t unpadded = entry.offset + 30 + name.size() + extra.size() + 4;
    const uint64_t padding = (64 - unpadded % 64) % 64;
    PutLe(&extra, 0x4246, 2);
    PutLe(&extra, padding, 2);
    extra.append(padding, 'Z');
    PutLe(&header, extra.size(), 2);
    header += name;
    header += extra;
    GANDER_RETURN_IF_ERROR(file_->Write(header));
    GANDER_RETURN_IF_ERROR(file_->Write(data));
    entries_.push_back(std::move(entry));
    return absl::OkStatus();
  }

  absl::Status Finish() {
    const uint64_t directory_offset = file_->offset();
    std::string directory;
    for (const WrittenEntry& e : entries_) {
      const bool zip64_sizes = force_zip64_ || e.size >= kMax32;
      const bool zip64_offset = force_zip64_ || e.offset >= kMax32;
      std::string extra;
      if (zip64_sizes || zip64_offset) {
        PutLe(&extra, 0x0001, 2);
        PutLe(&extra, (zip64_sizes ? 16 : 0) + (zip64_offset ? 8 : 0), 2);
        if (zip64_sizes) {
          PutLe(&extra, e.size, 8);
          PutLe(&extra, e.size, 8);
        }
        if (zip64_offset) PutLe(&extra, e.offset, 8);
      }
      const int version = extra.empty() ? 20 : 45;
      PutLe(&directory, kZipCentralHeaderSignature, 4);
      PutLe(&directory, version, 2);  // made by (MS-DOS attributes)
      PutLe(&directory, version, 2);  // needed
      PutLe(&directory, 0, 2);        // flags
      PutLe(&directory, 0, 2);        // stored
      PutLe(&directory, 0, 2);
      PutLe(&directory, 0x21, 2);
      PutLe(&directory, e.crc, 4);
      PutLe(&directory, zip64_sizes ? kMax32 : e.size, 4);
      PutLe(&directory, zip64_sizes ? kMax32 : e.size, 4);
      PutLe(&directory, e.name.size(), 2);
      PutLe(&directory, extra.size(), 2);
      PutLe(&directory, 0, 2);  // comment
      PutLe(&directory, 0, 2);  // disk
      PutLe(&directory, 0, 2);  // internal attributes
      PutLe(&directory, 0, 4);  // external attributes
      PutLe(&directory, zip64_offset ? kMax32 : e.offset, 4);
      directory += e.name;
      directory += extra;
    }
    GANDER_RETURN_IF_ERROR(file_->Write(directory));
    const uint64_t count = entries_.size();
    const uint64_t size = directory.size();
    const bool zip64 =
        force_zip64_ || count >= 0xffff || size >= kMax32 || directory_offset >= kMax32;
    std::string end;
    if (zip64) {
      const uint64_t record_offset = file_->offset();
      PutLe(&end, kZip64EndSignature, 4);
      PutLe(&end, 44, 8);  // size of the rest of the record
      PutLe(&end, 45, 2);
      PutLe(&end, 45, 2);
      PutLe(&end, 0, 4);  // this disk
      PutLe(&end, 0, 4);  // directory's disk
      PutLe(&end, count, 8);
      PutLe(&end, count, 8);
      PutLe(&end, size, 8);
      PutLe(&end, directory_offset, 8);
      PutLe(&end, kZip64LocatorSignature, 4);
      PutLe(&end, 0, 4);
      PutLe(&end, record_offset, 8);
      PutLe(&end, 1, 4);  // disks
    }
    PutLe(&end, kZipEndSignature, 4);
    PutLe(&end, 0, 2);
    PutLe(&end, 0, 2);
    PutLe(&end, zip64 ? 0xffff : count, 2);
    PutLe(&end, zip64 ? 0xffff : count, 2);
    PutLe(&end, zip64 ? kMax32 : size, 4);
    PutLe(&end, zip64 ? kMax32 : directory_offset, 4);
    PutLe(&end, 0, 2);  // comment
    return file_->Write(end);
  }

 private:
  AtomicFile* file_;
  bool force_zip64_;
  std::vector<WrittenEntry> entries_;
};

void AppendJsonString(std::string* out, absl::string_view text) {
  out->push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (static_cast<uint8_t>(c) < 0x20) {
      absl::StrAppend(out, "\\u00", absl::Hex(static_cast<uint8_t>(c), absl::kZeroPad2));
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

}  // namespace

absl::Status WritePth(const std::string& path, const std::vector<TensorToWrite>& tensors,
                      const TensorBytesFn& bytes, const PthWriteOptions& options) {
  GANDER_RETURN_IF_ERROR(CheckTensors(tensors));
  if (options.archive_name.empty() || options.archive_name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad archive name '", options.archive_name, "'"));
  }
  AtomicFile file(path);
  GANDER_RETURN_IF_ERROR(file.Open());
  ZipWriter zip(&file, options.force_zip64);
  const std::string prefix = options.archive_name + "/";
  GANDER_RETURN_IF_ERROR(zip.Add(prefix + "data.pkl", StateDictPickle(tensors)));
  GANDER_RETURN_IF_ERROR(zip.Add(prefix + "byteorder", "little"));
  std::string data;
  for (size_t i = 0; i < tensors.size(); ++i) {
    GANDER_RETURN_IF_ERROR(GetBytes(bytes, tensors, i, &data));
    GANDER_RETURN_IF_ERROR(zip.Add(absl::StrCat(prefix, "data/", i), data));
  }
  GANDER_RETURN_IF_ERROR(zip.Add(prefix + "version", "3\n"));
  GANDER_RETURN_IF_ERROR(zip.Finish());
  return file.Commit();
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const TensorBytesFn& bytes) {
  GANDER_RETURN_IF_ERROR(CheckTensors(tensors));
  std::string header = R"({"__metadata__":{"format":"pt"})";
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    if (!t.stride.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name, "': safetensors has no strides"));
    }
    header += ',';
    AppendJsonString(&header, t.name);
    absl::StrAppend(&header, R"(:{"dtype":")", DTypeName(t.dtype), R"(","shape":[)",
                    absl::StrJoin(t.shape, ","), R"(],"data_offsets":[)", offset, ",",
                    offset + ByteSize(t), "]}");
    offset += ByteSize(t);
  }
  header += '}';
  header.append((64 - (8 + header.size()) % 64) % 64, ' ');
  std::string length;
  PutLe(&length, header.size(), 8);

  AtomicFile file(path);
  GANDER_RETURN_IF_ERROR(file.Open());
  GANDER_RETURN_IF_ERROR(file.Write(length));
  GANDER_RETURN_IF_ERROR(file.Write(header));
  std::string data;
  for (size_t i = 0; i < tensors.size(); ++i) {
    GANDER_RETURN_IF_ERROR(GetBytes(bytes, tensors, i, &data));
    GANDER_RETURN_IF_ERROR(file.Write(data));
  }
  return file.Commit();
}

}  // namespace gander::engine::weights_internal
