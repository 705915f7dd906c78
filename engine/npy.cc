#include "engine/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gander::engine {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "npy.cc copies little-endian file data straight into memory");

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// The largest element count accepted: keeps every byte count far from overflow.
constexpr int64_t kMaxElements = int64_t{1} << 40;

absl::Status ErrnoStatus(int error, const std::string& what) {
  std::string message = absl::StrCat(what, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EISDIR:
      return absl::InvalidArgumentError(message);
    case ENOSPC:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::UnknownError(message);
  }
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("cannot open ", path));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int error = errno;
    close(fd);
    return ErrnoStatus(error, absl::StrCat("cannot stat ", path));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  std::string data;
  char buffer[1 << 16];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      close(fd);
      return ErrnoStatus(error, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return data;
}

// The dictionary of an .npy header: {'descr': ..., 'fortran_order': ..., 'shape': (...)}.
struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// A small parser for the header's Python literal (the subset NumPy writes).
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  absl::StatusOr<Header> Parse() {
    Header header;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    SkipSpace();
    if (!Consume('{')) return Error("expected '{'");
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      absl::StatusOr<std::string> key = ParseString();
      if (!key.ok()) return key.status();
      SkipSpace();
      if (!Consume(':')) return Error(absl::StrCat("expected ':' after key '", *key, "'"));
      SkipSpace();
      if (*key == "descr") {
        if (seen_descr) return Error("duplicate key 'descr'");
        seen_descr = true;
        absl::StatusOr<std::string> descr = ParseString();
        if (!descr.ok()) return descr.status();
        header.descr = *descr;
      } else if (*key == "fortran_order") {
        if (seen_fortran) return Error("duplicate key 'fortran_order'");
        seen_fortran = true;
        absl::StatusOr<bool> value = ParseBool();
        if (!value.ok()) return value.status();
        header.fortran_order = *value;
      } else if (*key == "shape") {
        if (seen_shape) return Error("duplicate key 'shape'");
        seen_shape = true;
        absl::StatusOr<std::vector<int64_t>> shape = ParseShape();
        if (!shape.ok()) return shape.status();
        header.shape = *std::move(shape);
      } else {
        return Error(absl::StrCat("unknown key '", *key, "'"));
      }
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume('}')) break;
      return Error("expected ',' or '}'");
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected characters after '}'");
    if (!seen_descr) return Error("missing key 'descr'");
    if (!seen_fortran) return Error("missing key 'fortran_order'");
    if (!seen_shape) return Error("missing key 'shape'");
    return header;
  }

 private:
  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": malformed .npy header: ", what, " at header offset ", pos_));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool ConsumeWord(std::string_view word) {
    if (text_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }

  // A quoted string without escapes: 'abc' or "abc".
  absl::StatusOr<std::string> ParseString() {
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return Error("expected a quoted string");
    }
    char quote = text_[pos_++];
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') return Error("escapes in strings are not supported");
      ++pos_;
    }
    if (pos_ >= text_.size()) return Error("unterminated string");
    std::string value(text_.substr(start, pos_ - start));
    ++pos_;
    return value;
  }

  absl::StatusOr<bool> ParseBool() {
    if (ConsumeWord("True")) return true;
    if (ConsumeWord("False")) return false;
    return Error("expected True or False");
  }

  // A tuple of non-negative integers: (), (5,), (2, 3), (2, 3,).
  absl::StatusOr<std::vector<int64_t>> ParseShape() {
    std::vector<int64_t> shape;
    if (!Consume('(')) return Error("expected '(' to open the shape");
    while (true) {
      SkipSpace();
      if (Consume(')')) break;
      if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') {
        return Error("expected a non-negative integer in the shape");
      }
      int64_t value = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        value = value * 10 + (text_[pos_] - '0');
        if (value > kMaxElements) return Error("shape dimension too large");
        ++pos_;
      }
      shape.push_back(value);
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume(')')) {
        // Python writes a 1-tuple as (5,): "(5)" is an int, not a tuple.
        if (shape.size() == 1) return Error("a one-dimensional shape needs a trailing ','");
        break;
      }
      return Error("expected ',' or ')' in the shape");
    }
    return shape;
  }

  std::string_view text_;
  const std::string& path_;
  size_t pos_ = 0;
};

std::optional<NpyDtype> DtypeFromDescr(const std::string& descr) {
  if (descr == "<f4") return NpyDtype::kFloat32;
  if (descr == "<i4") return NpyDtype::kInt32;
  return std::nullopt;
}

uint32_t LittleEndian(const unsigned char* p, int bytes) {
  uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// Checks a shape against a data size; returns the element count.
absl::StatusOr<int64_t> ElementCount(absl::Span<const int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return absl::InvalidArgumentError(absl::StrCat("negative dimension ", dim));
    if (dim != 0 && count > kMaxElements / dim) {
      return absl::InvalidArgumentError("shape has too many elements");
    }
    count *= dim;
  }
  return count;
}

std::string ShapeLiteral(absl::Span<const int64_t> shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

absl::Status WriteNpy(const std::string& path, NpyDtype dtype, const void* data, size_t count,
                      absl::Span<const int64_t> shape) {
  absl::StatusOr<int64_t> expected = ElementCount(shape);
  if (!expected.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write ", path, ": ", expected.status().message()));
  }
  if (static_cast<uint64_t>(*expected) != count) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write ", path, ": shape ",
                                                   ShapeLiteral(shape), " holds ", *expected,
                                                   " elements but ", count, " were given"));
  }
  std::string dict =
      absl::StrCat("{'descr': '", NpyDtypeDescr(dtype),
                   "', 'fortran_order': False, 'shape': ", ShapeLiteral(shape), ", }");
  // Version 1.0 has a 2-byte header length, 2.0 a 4-byte one. The header is
  // padded with spaces and ends in '\n' so that the data starts at a multiple
  // of 64 bytes, as NumPy does.
  bool v1 = dict.size() + 1 + 64 <= 0xFFFF;
  size_t prefix = kMagicSize + 2 + (v1 ? 2 : 4);
  size_t padded = dict.size() + 1;
  padded += (64 - (prefix + padded) % 64) % 64;
  dict.append(padded - dict.size() - 1, ' ');
  dict.push_back('\n');

  std::string head(kMagic, kMagicSize);
  head.push_back(static_cast<char>(v1 ? 1 : 2));
  head.push_back(0);
  for (int i = 0; i < (v1 ? 2 : 4); ++i)
    head.push_back(static_cast<char>((padded >> (8 * i)) & 0xFF));
  head += dict;

  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return ErrnoStatus(errno, absl::StrCat("cannot create ", path));
  bool ok = std::fwrite(head.data(), 1, head.size(), file) == head.size();
  if (ok && count > 0) ok = std::fwrite(data, 4, count, file) == count;
  int error = ok ? 0 : errno;
  if (std::fclose(file) != 0 && ok) {
    ok = false;
    error = errno;
  }
  if (!ok) return ErrnoStatus(error, absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

const char* NpyDtypeDescr(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::kFloat32:
      return "<f4";
    case NpyDtype::kInt32:
      return "<i4";
  }
  return "?";
}

absl::Span<const float> NpyArray::floats() const {
  if (dtype_ != NpyDtype::kFloat32) return {};
  return {reinterpret_cast<const float*>(words_.data()), words_.size()};
}

absl::Span<const int32_t> NpyArray::ints() const {
  if (dtype_ != NpyDtype::kInt32) return {};
  return {reinterpret_cast<const int32_t*>(words_.data()), words_.size()};
}

std::string NpyArray::ShapeString() const { return ShapeLiteral(shape_); }

absl::StatusOr<NpyArray> ReadNpy(const std::string& path) {
  absl::StatusOr<std::string> file = ReadWholeFile(path);
  if (!file.ok()) return file.status();
  const std::string& blob = *file;
  const auto* bytes = reinterpret_cast<const unsigned char*>(blob.data());

  if (blob.size() < kMagicSize + 2 || blob.compare(0, kMagicSize, kMagic, kMagicSize) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an .npy file (bad magic)"));
  }
  int major = bytes[kMagicSize], minor = bytes[kMagicSize + 1];
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unsupported .npy version ", major, ".", minor));
  }
  size_t length_bytes = major == 1 ? 2 : 4;
  size_t header_start = kMagicSize + 2 + length_bytes;
  if (blob.size() < header_start) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": truncated .npy header: the file ends inside the header length"));
  }
  size_t header_len = LittleEndian(bytes + kMagicSize + 2, static_cast<int>(length_bytes));
  if (blob.size() - header_start < header_len) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated .npy header: ", header_len,
                                                   " bytes declared, ", blob.size() - header_start,
                                                   " present"));
  }
  std::string_view header_text(blob.data() + header_start, header_len);
  absl::StatusOr<Header> header = HeaderParser(header_text, path).Parse();
  if (!header.ok()) return header.status();

  std::optional<NpyDtype> dtype = DtypeFromDescr(header->descr);
  if (!dtype.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": unsupported dtype '", header->descr,
                                                   "' (only '<f4' and '<i4' are read)"));
  }
  if (header->fortran_order) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": fortran_order is True; only C-order arrays are read"));
  }
  absl::StatusOr<int64_t> count = ElementCount(header->shape);
  if (!count.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", count.status().message()));
  }
  size_t data_start = header_start + header_len;
  uint64_t want = static_cast<uint64_t>(*count) * 4;
  uint64_t have = blob.size() - data_start;
  if (have < want) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated data: shape ",
                                                   ShapeLiteral(header->shape), " needs ", want,
                                                   " bytes, the file has ", have));
  }
  if (have > want) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", have - want,
                                                   " unexpected bytes after the data of shape ",
                                                   ShapeLiteral(header->shape)));
  }
  std::vector<uint32_t> words(static_cast<size_t>(*count));
  if (!words.empty()) std::memcpy(words.data(), blob.data() + data_start, want);
  return NpyArray(*dtype, std::move(header->shape), std::move(words));
}

absl::Status WriteNpyFloat32(const std::string& path, absl::Span<const float> values,
                             absl::Span<const int64_t> shape) {
  return WriteNpy(path, NpyDtype::kFloat32, values.data(), values.size(), shape);
}

absl::Status WriteNpyInt32(const std::string& path, absl::Span<const int32_t> values,
                           absl::Span<const int64_t> shape) {
  return WriteNpy(path, NpyDtype::kInt32, values.data(), values.size(), shape);
}

}  // namespace gander::engine
