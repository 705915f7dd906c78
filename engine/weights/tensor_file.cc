#include "engine/weights/tensor_file.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/weights/json.h"
#include "engine/weights/pickle.h"
#include "engine/weights/zip.h"

namespace gander::engine::weights_internal {
namespace {

// The safetensors format caps its header at 100 MB.
constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

absl::Status CheckUniqueNames(const std::vector<TensorView>& tensors) {
  absl::flat_hash_set<absl::string_view> names;
  for (const TensorView& t : tensors) {
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate tensor '", t.name, "'"));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- safetensors

absl::StatusOr<DType> SafetensorsDType(const std::string& name, const JsonValue& value) {
  if (value.kind != JsonValue::Kind::kString) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors header: tensor '", name,
                                                   "' dtype at byte offset ", value.offset,
                                                   " is not a string"));
  }
  if (value.text == "F32") return DType::kF32;
  if (value.text == "BF16") return DType::kBF16;
  if (value.text == "F16") return DType::kF16;
  return absl::InvalidArgumentError(absl::StrCat("safetensors header: tensor '", name,
                                                 "' has dtype '", value.text,
                                                 "'; supported: F32, BF16, F16"));
}

absl::Status IntArray(const std::string& name, absl::string_view field, const JsonValue* value,
                      std::vector<int64_t>* out) {
  if (value == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("safetensors header: tensor '", name, "' has no '", field, "'"));
  }
  if (value->kind != JsonValue::Kind::kArray || value->elements.size() > 16) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors header: tensor '", name, "' ",
                                                   field, " at byte offset ", value->offset,
                                                   " is not an array of at most 16 integers"));
  }
  out->clear();
  for (const JsonValue& element : value->elements) {
    int64_t v;
    if (!element.AsNonNegativeInt(&v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors header: tensor '", name, "' ", field, " at byte offset ",
                       element.offset, " holds something other than a non-negative integer"));
    }
    out->push_back(v);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TensorView>> ParseSafetensors(absl::Span<const uint8_t> file) {
  if (file.size() < 8) {
    return absl::InvalidArgumentError(absl::StrCat("truncated safetensors file: ", file.size(),
                                                   " bytes, less than its 8-byte header length"));
  }
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(file[i]) << (8 * i);
  if (header_size > kMaxSafetensorsHeader) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors header length ", header_size,
                                                   " at byte offset 0 exceeds 100 MB"));
  }
  if (header_size > file.size() - 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncated safetensors file: the header of ", header_size,
                     " bytes runs past the end of the file (", file.size(), " bytes)"));
  }
  GANDER_ASSIGN_OR_RETURN(
      JsonValue root,
      ParseJson(absl::string_view(reinterpret_cast<const char*>(file.data()) + 8, header_size),
                /*base_offset=*/8));
  if (root.kind != JsonValue::Kind::kObject) {
    return absl::InvalidArgumentError("safetensors header at byte offset 8 is not a JSON object");
  }
  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = file.size() - data_start;
  std::vector<TensorView> tensors;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // [begin, end) within the data
  for (const JsonMember& member : root.members) {
    const std::string& name = member.key;
    const JsonValue& info = member.value;
    if (name == "__metadata__") {
      if (info.kind != JsonValue::Kind::kObject) {
        return absl::InvalidArgumentError(absl::StrCat(
            "safetensors header: __metadata__ at byte offset ", info.offset, " is not an object"));
      }
      continue;
    }
    if (info.kind != JsonValue::Kind::kObject) {
      return absl::InvalidArgumentError(absl::StrCat("safetensors header: tensor '", name,
                                                     "' at byte offset ", info.offset,
                                                     " is not an object"));
    }
    const JsonValue* dtype_value = info.Find("dtype");
    if (dtype_value == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors header: tensor '", name, "' has no 'dtype'"));
    }
    TensorView view;
    view.name = name;
    GANDER_ASSIGN_OR_RETURN(view.dtype, SafetensorsDType(name, *dtype_value));
    GANDER_RETURN_IF_ERROR(IntArray(name, "shape", info.Find("shape"), &view.shape));
    std::vector<int64_t> offsets;
    GANDER_RETURN_IF_ERROR(IntArray(name, "data_offsets", info.Find("data_offsets"), &offsets));
    if (offsets.size() != 2 || offsets[0] > offsets[1]) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors header: tensor '", name, "' data_offsets is not [begin, end]"));
    }
    const uint64_t begin = offsets[0];
    const uint64_t end = offsets[1];
    if (end > data_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", name, "' data [", data_start + begin, ", ", data_start + end,
          ") runs past the end of the file (", file.size(), " bytes): truncated file?"));
    }
    int64_t count;
    if (!ElementCount(view.shape, &count) ||
        static_cast<uint64_t>(count) * DTypeSize(view.dtype) != end - begin) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", name, "': shape ", ShapeString(view.shape), " of ", DTypeName(view.dtype),
          " does not match its ", end - begin, " data bytes at byte offset ", data_start + begin));
    }
    view.data = file.data() + data_start + begin;
    view.byte_size = end - begin;
    view.file_offset = data_start + begin;
    if (begin < end) ranges.emplace_back(begin, end);
    tensors.push_back(std::move(view));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "safetensors: tensor data overlap at byte offset ", data_start + ranges[i].first));
    }
  }
  return tensors;
}

// ---------------------------------------------------------------- .pth

// Contiguous row-major: each stride is the product of the later sizes
// (dimensions of size 1 may have any stride, as in torch).
bool IsContiguous(const std::vector<int64_t>& shape, const std::vector<int64_t>& stride) {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 0) return true;  // empty: nothing to address
    if (shape[i] != 1 && stride[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

absl::Status NeedStored(const ZipEntry& entry, absl::string_view purpose) {
  if (entry.method == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "ZIP entry '", entry.name, "' (", purpose, ") at byte offset ", entry.header_offset,
      " is compressed (method ", entry.method,
      "); only stored (uncompressed) entries are supported, as torch.save writes them"));
}

absl::StatusOr<std::vector<TensorView>> ParsePth(absl::Span<const uint8_t> file) {
  GANDER_ASSIGN_OR_RETURN(std::vector<ZipEntry> entries, ReadZipDirectory(file));
  absl::flat_hash_map<absl::string_view, const ZipEntry*> by_name;
  const ZipEntry* pickle_entry = nullptr;
  for (const ZipEntry& entry : entries) {
    by_name[entry.name] = &entry;
    const size_t slash = entry.name.find('/');
    if (slash != std::string::npos && entry.name.substr(slash) == "/data.pkl") {
      if (pickle_entry != nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "two pickles in one checkpoint: '", pickle_entry->name, "' and '", entry.name, "'"));
      }
      pickle_entry = &entry;
    }
  }
  if (pickle_entry == nullptr) {
    return absl::InvalidArgumentError(
        "ZIP archive without an '<archive>/data.pkl' entry: not a PyTorch checkpoint");
  }
  const std::string prefix = pickle_entry->name.substr(0, pickle_entry->name.size() - 8);

  auto byteorder = by_name.find(prefix + "byteorder");
  if (byteorder != by_name.end()) {
    const ZipEntry& entry = *byteorder->second;
    GANDER_RETURN_IF_ERROR(NeedStored(entry, "byte order"));
    const absl::string_view order(reinterpret_cast<const char*>(file.data()) + entry.data_offset,
                                  entry.size);
    if (order != "little") {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint byte order is '", order, "'; only 'little' is supported"));
    }
  }

  GANDER_RETURN_IF_ERROR(NeedStored(*pickle_entry, "the state dict pickle"));
  const absl::Span<const uint8_t> pickle =
      file.subspan(pickle_entry->data_offset, pickle_entry->size);
  if (Crc32(0, pickle) != pickle_entry->crc32) {
    return absl::InvalidArgumentError(
        absl::StrCat("CRC-32 mismatch in ZIP entry '", pickle_entry->name, "' at byte offset ",
                     pickle_entry->data_offset, ": the file is corrupt"));
  }
  GANDER_ASSIGN_OR_RETURN(std::vector<PickledTensor> pickled, ParseStateDictPickle(pickle));

  std::vector<TensorView> tensors;
  tensors.reserve(pickled.size());
  for (PickledTensor& p : pickled) {
    int64_t count;
    if (!ElementCount(p.shape, &count)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", p.name, "' has an invalid shape ", ShapeString(p.shape)));
    }
    if (!IsContiguous(p.shape, p.stride)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", p.name, "' is not contiguous: stride ", ShapeString(p.stride),
                       " for shape ", ShapeString(p.shape),
                       "; only contiguous tensors are supported (save tensor.contiguous())"));
    }
    const std::string entry_name = absl::StrCat(prefix, "data/", p.storage_key);
    auto it = by_name.find(entry_name);
    if (it == by_name.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", p.name, "': storage entry '", entry_name, "' is missing"));
    }
    const ZipEntry& entry = *it->second;
    GANDER_RETURN_IF_ERROR(NeedStored(entry, absl::StrCat("tensor '", p.name, "'")));
    const uint64_t element_size = DTypeSize(p.dtype);
    if (static_cast<uint64_t>(p.storage_numel) > entry.size / element_size ||
        static_cast<uint64_t>(p.storage_numel) * element_size != entry.size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", p.name, "': storage '", entry_name, "' should hold ", p.storage_numel,
          " elements of ", element_size, " bytes but its entry holds ", entry.size, " bytes"));
    }
    if (p.storage_offset > p.storage_numel || count > p.storage_numel - p.storage_offset) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", p.name, "' (", count, " elements from element ", p.storage_offset,
          ") exceeds its storage of ", p.storage_numel, " elements"));
    }
    TensorView view;
    view.name = std::move(p.name);
    view.dtype = p.dtype;
    view.shape = std::move(p.shape);
    view.file_offset = entry.data_offset + static_cast<uint64_t>(p.storage_offset) * element_size;
    view.data = file.data() + view.file_offset;
    view.byte_size = static_cast<uint64_t>(count) * element_size;
    tensors.push_back(std::move(view));
  }
  return tensors;
}

}  // namespace

absl::string_view FormatName(TensorFile::Format format) {
  return format == TensorFile::Format::kPth ? "PyTorch .pth" : "safetensors";
}

absl::StatusOr<TensorFile> TensorFile::Open(const std::string& path) {
  GANDER_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> mapping, MappedFile::Open(path));
  return Parse(std::move(mapping));
}

absl::StatusOr<TensorFile> TensorFile::Parse(std::shared_ptr<const MappedFile> mapping) {
  const absl::Span<const uint8_t> bytes = mapping->bytes();
  const std::string& path = mapping->path();
  if (bytes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is an empty file"));
  }
  Format format;
  absl::StatusOr<std::vector<TensorView>> tensors;
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0) {
    format = Format::kPth;
    tensors = ParsePth(bytes);
  } else if (bytes.size() >= 9 && bytes[8] == '{') {
    format = Format::kSafetensors;
    tensors = ParseSafetensors(bytes);
  } else if (bytes[0] == 0x80) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path,
        "' is a bare pickle (legacy PyTorch format, before torch 1.6); re-save it with a "
        "current torch.save"));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path,
                     "' is neither a PyTorch zip checkpoint (starts with 'PK\\x03\\x04') nor a "
                     "safetensors file (8-byte header length, then '{')"));
  }
  if (!tensors.ok()) {
    return absl::Status(tensors.status().code(), absl::StrCat(path, " (", FormatName(format),
                                                              "): ", tensors.status().message()));
  }
  GANDER_RETURN_IF_ERROR(CheckUniqueNames(*tensors));
  return TensorFile(format, std::move(mapping), *std::move(tensors));
}

}  // namespace gander::engine::weights_internal
