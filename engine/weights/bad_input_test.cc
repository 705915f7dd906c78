// Files LoadModelWeights must refuse, each with its own code and message.
// Every bad file is made here from the writers' output, by editing the
// tensor list or mutating bytes.
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/weights/model_weights.h"
#include "engine/weights/random_model.h"
#include "engine/weights/test_util.h"
#include "engine/weights/zip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

using ::testing::HasSubstr;
using weights_internal::Crc32;
using weights_internal::DType;
using weights_test::EditableTensor;
using weights_test::ReadFileOrDie;
using weights_test::TempPath;
using weights_test::WriteFileOrDie;

RandomModelSpec BaseSpec() {
  RandomModelSpec spec;
  spec.layers = 2;
  spec.embd = 64;
  spec.vocab = 32;
  spec.seed = 1;
  return spec;
}

std::string WriteBase(TensorFormat format) {
  const std::string path = TempPath(format == TensorFormat::kPth ? "base.pth" : "base.st");
  const absl::Status status = WriteRandomModel(BaseSpec(), path, format, FileDtype::kBF16);
  EXPECT_TRUE(status.ok()) << status;
  return path;
}

std::string WriteBytes(const std::string& bytes) {
  const std::string path = TempPath("bad");
  WriteFileOrDie(path, bytes);
  return path;
}

void ExpectLoadError(const std::string& path, absl::StatusCode code, const std::string& message) {
  absl::StatusOr<ModelWeights> w = LoadModelWeights(path);
  ASSERT_FALSE(w.ok()) << "loaded " << path;
  EXPECT_EQ(w.status().code(), code) << w.status();
  EXPECT_THAT(std::string(w.status().message()), HasSubstr(message));
}

void ExpectInvalid(const std::string& path, const std::string& message) {
  ExpectLoadError(path, absl::StatusCode::kInvalidArgument, message);
}

// Offsets of the central directory / local header of a ZIP entry.
size_t CentralHeaderOf(const std::string& file, const std::string& name) {
  for (size_t pos = file.find("PK\x01\x02"); pos != std::string::npos;
       pos = file.find("PK\x01\x02", pos + 1)) {
    if (file.compare(pos + 46, name.size(), name) == 0) return pos;
  }
  ADD_FAILURE() << "no central header for " << name;
  return 0;
}
size_t LocalHeaderOf(const std::string& file, const std::string& name) {
  for (size_t pos = file.find("PK\x03\x04"); pos != std::string::npos;
       pos = file.find("PK\x03\x04", pos + 1)) {
    if (file.compare(pos + 30, name.size(), name) == 0) return pos;
  }
  ADD_FAILURE() << "no local header for " << name;
  return 0;
}
void PutLe32(std::string* file, size_t pos, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*file)[pos + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetLe32(const std::string& file, size_t pos) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<uint8_t>(file[pos + i])) << (8 * i);
  return v;
}
// [offset, size) of an entry's data, from its local header.
std::pair<size_t, size_t> EntryData(const std::string& file, const std::string& name) {
  const size_t local = LocalHeaderOf(file, name);
  const size_t name_size = static_cast<uint8_t>(file[local + 26]) | (file[local + 27] << 8);
  const size_t extra_size = static_cast<uint8_t>(file[local + 28]) | (file[local + 29] << 8);
  return {local + 30 + name_size + extra_size, GetLe32(file, local + 18)};
}
// Recomputes an entry's CRC after its data was edited.
void FixCrc(std::string* file, const std::string& name) {
  const auto [offset, size] = EntryData(*file, name);
  const uint32_t crc =
      Crc32(0, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(file->data()) + offset, size));
  PutLe32(file, CentralHeaderOf(*file, name) + 16, crc);
  PutLe32(file, LocalHeaderOf(*file, name) + 14, crc);
}

std::string WriteEdited(const std::vector<EditableTensor>& tensors, TensorFormat format) {
  const std::string path = TempPath("edited");
  const absl::Status status = weights_test::WriteTensors(path, tensors, format);
  EXPECT_TRUE(status.ok()) << status;
  return path;
}

EditableTensor* Find(std::vector<EditableTensor>* tensors, const std::string& name) {
  for (EditableTensor& t : *tensors) {
    if (t.header.name == name) return &t;
  }
  ADD_FAILURE() << "no tensor " << name;
  return nullptr;
}

const TensorFormat kFormats[] = {TensorFormat::kPth, TensorFormat::kSafetensors};

// Sanitizer builds run ~50x slower: they sample every 7th byte instead.
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kStride = 7;
#else
constexpr size_t kStride = 1;
#endif

// Loads `file` with each byte of [begin, end) flipped in turn: every variant
// must load or fail with INVALID_ARGUMENT, never crash; returns the failures.
int LoadEachFlip(const std::string& file, size_t begin, size_t end) {
  const std::string path = TempPath("flipped");
  WriteFileOrDie(path, file);
  std::fstream out(path, std::ios::in | std::ios::out | std::ios::binary);
  auto put = [&](size_t i, char c) {
    out.seekp(i);
    out.put(c);
    out.flush();
  };
  int failures = 0;
  for (size_t i = begin; i < end; i += kStride) {
    put(i, static_cast<char>(file[i] ^ 0x04));
    const absl::Status status = LoadModelWeights(path).status();  // unmapped again
    if (!status.ok()) {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << i << status;
      ++failures;
    }
    put(i, file[i]);
  }
  EXPECT_TRUE(out.good());
  return failures;
}

// ---------------------------------------------------------------- files

TEST(BadInputTest, NonexistentFile) {
  const std::string path = TempPath("does-not-exist.pth");
  ExpectLoadError(path, absl::StatusCode::kNotFound, path);
}

TEST(BadInputTest, EmptyFile) { ExpectInvalid(WriteBytes(""), "is an empty file"); }

TEST(BadInputTest, Directory) {
  const std::string path = TempPath("dir");
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  ExpectInvalid(path, "is not a regular file");
}

TEST(BadInputTest, NeitherFormat) {
  ExpectInvalid(WriteBytes("this is not a model file at all"),
                "is neither a PyTorch zip checkpoint");
  ExpectInvalid(WriteBytes(std::string("\x80\x02\x8a\x0alegacy torch.save", 22)),
                "legacy PyTorch format");
}

// ---------------------------------------------------------------- .pth damage

TEST(BadInputTest, TruncatedPth) {
  const std::string file = ReadFileOrDie(WriteBase(TensorFormat::kPth));
  for (size_t cut : {size_t{30}, size_t{100}, file.size() / 2, file.size() - 23, file.size() - 1}) {
    SCOPED_TRACE(cut);
    const std::string path = WriteBytes(file.substr(0, cut));
    ExpectInvalid(path, "no ZIP end of central directory record");
    ExpectInvalid(path, path);  // the message names the file
  }
}

TEST(BadInputTest, FlippedZipDirectoryBytes) {
  const std::string file = ReadFileOrDie(WriteBase(TensorFormat::kPth));
  const size_t central = CentralHeaderOf(file, "archive/data/3");
  std::string bad = file;
  bad[central] ^= 0x20;
  ExpectInvalid(WriteBytes(bad),
                absl::StrCat("byte offset ", central, ": bad central directory header signature"));
  bad = file;
  bad[file.size() - 22] ^= 0x01;  // end record signature
  ExpectInvalid(WriteBytes(bad), "no ZIP end of central directory record");
  bad = file;
  bad[central + 42] ^= 0x08;  // local header offset of archive/data/3
  ExpectInvalid(WriteBytes(bad), "archive/data/3");
  bad = file;
  bad[file.size() - 6] ^= 0x40;  // directory offset in the end record
  ExpectInvalid(WriteBytes(bad), "corrupt ZIP archive");
}

TEST(BadInputTest, EveryFlipInTheZipRecordsIsHandled) {
  const std::string file = ReadFileOrDie(WriteBase(TensorFormat::kPth));
  const size_t directory = CentralHeaderOf(file, "archive/data.pkl");
  // Central directory and end record; then the first local header.
  const int failures = LoadEachFlip(file, directory, file.size());
  EXPECT_GT(failures, static_cast<int>((file.size() - directory) / kStride / 2));
  LoadEachFlip(file, 0, 64);
}

TEST(BadInputTest, FlippedPickleByte) {
  std::string file = ReadFileOrDie(WriteBase(TensorFormat::kPth));
  const auto [offset, size] = EntryData(file, "archive/data.pkl");
  file[offset + size / 2] ^= 0x10;
  ExpectInvalid(WriteBytes(file), "CRC-32 mismatch in ZIP entry 'archive/data.pkl'");
}

TEST(BadInputTest, PickleNamingAnotherGlobal) {
  std::string file = ReadFileOrDie(WriteBase(TensorFormat::kPth));
  const size_t pos = file.find("_rebuild_tensor_v2");
  ASSERT_NE(pos, std::string::npos);
  file[pos + 17] = '9';
  FixCrc(&file, "archive/data.pkl");
  ExpectInvalid(WriteBytes(file), "unsupported pickle global 'torch._utils._rebuild_tensor_v9'");
}

TEST(BadInputTest, CompressedZipEntry) {
  std::string file = ReadFileOrDie(WriteBase(TensorFormat::kPth));
  file[CentralHeaderOf(file, "archive/data/5") + 10] = 8;  // deflate
  ExpectInvalid(WriteBytes(file), "ZIP entry 'archive/data/5' (tensor 'blocks.0.ln2.weight')");
  ExpectInvalid(WriteBytes(file), "is compressed (method 8)");
}

TEST(BadInputTest, MissingStorageEntry) {
  std::string file = ReadFileOrDie(WriteBase(TensorFormat::kPth));
  file[CentralHeaderOf(file, "archive/data/7") + 46 + 13] = 'Z';
  file[LocalHeaderOf(file, "archive/data/7") + 30 + 13] = 'Z';
  ExpectInvalid(WriteBytes(file), "storage entry 'archive/data/7' is missing");
}

TEST(BadInputTest, BigEndianCheckpoint) {
  std::string file = ReadFileOrDie(WriteBase(TensorFormat::kPth));
  const auto [offset, size] = EntryData(file, "archive/byteorder");
  file.replace(offset, size, "bigend");
  ExpectInvalid(WriteBytes(file), "checkpoint byte order is 'bigend'");
}

TEST(BadInputTest, NonContiguousStride) {
  std::vector<EditableTensor> tensors = weights_test::RandomModelTensors(BaseSpec(), DType::kBF16);
  Find(&tensors, "blocks.0.att.key.weight")->header.stride = {1, 64};
  ExpectInvalid(WriteEdited(tensors, TensorFormat::kPth),
                "tensor 'blocks.0.att.key.weight' is not contiguous: stride [1, 64] for shape "
                "[64, 64]");
}

// ---------------------------------------------------------------- safetensors damage

TEST(BadInputTest, TruncatedSafetensors) {
  const std::string file = ReadFileOrDie(WriteBase(TensorFormat::kSafetensors));
  ExpectInvalid(WriteBytes(file.substr(0, 6)), "is neither");
  ExpectInvalid(WriteBytes(file.substr(0, 50)), "the header of");
  ExpectInvalid(WriteBytes(file.substr(0, 50)), "runs past the end of the file (50 bytes)");
  for (size_t cut : {file.size() / 2, file.size() - 1}) {
    ExpectInvalid(WriteBytes(file.substr(0, cut)), "runs past the end of the file");
    ExpectInvalid(WriteBytes(file.substr(0, cut)), "truncated file?");
  }
}

TEST(BadInputTest, EveryFlipInTheSafetensorsHeaderIsHandled) {
  const std::string file = ReadFileOrDie(WriteBase(TensorFormat::kSafetensors));
  const size_t header_end =
      8 + static_cast<uint8_t>(file[0]) + (static_cast<uint8_t>(file[1]) << 8);
  const int failures = LoadEachFlip(file, 0, header_end);
  EXPECT_GT(failures, static_cast<int>(header_end / kStride / 2));
}

TEST(BadInputTest, FlippedSafetensorsHeaderBytes) {
  const std::string file = ReadFileOrDie(WriteBase(TensorFormat::kSafetensors));
  std::string bad = file;
  bad.replace(bad.find("\"BF16\""), 6, "\"BF17\"");
  ExpectInvalid(WriteBytes(bad), "has dtype 'BF17'; supported: F32, BF16, F16");

  bad = file;
  const size_t colon = bad.find(':', 8);
  bad[colon] = ';';
  ExpectInvalid(WriteBytes(bad), absl::StrCat("JSON error at byte offset ", colon));

  bad = file;
  bad[0] += 1;  // header length one byte too long: takes in a data byte
  ExpectInvalid(WriteBytes(bad), "unexpected bytes after the JSON value");

  bad = file;
  const std::string key = "\"blocks.0.att.key.weight\":{\"dtype\":\"BF16\",\"shape\":[64,64]";
  const size_t pos = bad.find(key);
  ASSERT_NE(pos, std::string::npos);
  bad[pos + key.size() - 3] = '3';  // [64,34]
  ExpectInvalid(WriteBytes(bad),
                "tensor 'blocks.0.att.key.weight': shape [64, 34] of BF16 does "
                "not match its 8192 data bytes");

  bad = file;
  bad.replace(bad.find("\"blocks.0.ln2.bias\""), 19, "\"blocks.0.ln1.bias\"");
  ExpectInvalid(WriteBytes(bad), "duplicate tensor 'blocks.0.ln1.bias'");
}

// ---------------------------------------------------------------- tensor sets

TEST(BadInputTest, MissingTensor) {
  for (TensorFormat format : kFormats) {
    std::vector<EditableTensor> tensors =
        weights_test::RandomModelTensors(BaseSpec(), DType::kBF16);
    std::vector<EditableTensor> without_key, without_emb;
    for (const EditableTensor& t : tensors) {
      if (t.header.name != "blocks.1.att.key.weight") without_key.push_back(t);
      if (t.header.name != "emb.weight") without_emb.push_back(t);
    }
    ExpectInvalid(WriteEdited(without_key, format),
                  "missing tensor 'blocks.1.att.key.weight' (expected shape [64, 64])");
    ExpectInvalid(WriteEdited(without_emb, format), "missing tensor 'emb.weight'");
  }
}

TEST(BadInputTest, ExtraTensor) {
  for (TensorFormat format : kFormats) {
    for (const char* name : {"blocks.0.att.bonus", "blocks.1.ln0.weight", "model.emb.weight",
                             "blocks.01.ln1.weight"}) {
      std::vector<EditableTensor> tensors =
          weights_test::RandomModelTensors(BaseSpec(), DType::kBF16);
      tensors.push_back({{name, DType::kBF16, {64}, {}}, std::vector<float>(64, 0.5f)});
      ExpectInvalid(WriteEdited(tensors, format),
                    absl::StrCat("unexpected tensor '", name, "': unknown variant"));
    }
  }
}

TEST(BadInputTest, DeepEmbedIsAnUnknownVariant) {
  for (TensorFormat format : kFormats) {
    std::vector<EditableTensor> tensors =
        weights_test::RandomModelTensors(BaseSpec(), DType::kBF16);
    tensors.push_back({{"blocks.0.ffn.s_emb.weight", DType::kBF16, {32, 64}, {}},
                       std::vector<float>(32 * 64, 0.25f)});
    ExpectInvalid(WriteEdited(tensors, format),
                  "unexpected tensor 'blocks.0.ffn.s_emb.weight': unknown variant (DeepEmbed");
  }
}

TEST(BadInputTest, MisshapedTensors) {
  struct Case {
    const char* name;
    std::vector<int64_t> shape;
    const char* message;
  };
  const Case cases[] = {
      {"blocks.1.att.key.weight",
       {64, 32},
       "tensor 'blocks.1.att.key.weight' has shape [64, 32], expected [64, 64]"},
      {"blocks.0.att.x_r", {64}, "tensor 'blocks.0.att.x_r' has shape [64], expected [1, 1, 64]"},
      {"blocks.1.att.w2", {8, 64}, "tensor 'blocks.1.att.w2' has shape [8, 64], expected [16, 64]"},
      {"blocks.0.att.r_k", {2, 16}, "expected [H, N] with H * N = C = 64"},
      {"emb.weight", {32, 2, 32}, "tensor 'emb.weight' has shape [32, 2, 32], expected [V, C]"},
      {"head.weight", {31, 64}, "tensor 'head.weight' has shape [31, 64], expected [32, 64]"},
  };
  for (TensorFormat format : kFormats) {
    for (const Case& c : cases) {
      std::vector<EditableTensor> tensors =
          weights_test::RandomModelTensors(BaseSpec(), DType::kBF16);
      EditableTensor* t = Find(&tensors, c.name);
      t->header.shape = c.shape;
      int64_t count = 1;
      for (int64_t d : c.shape) count *= d;
      t->values.resize(count, 0.0f);
      ExpectInvalid(WriteEdited(tensors, format), c.message);
    }
  }
}

}  // namespace
}  // namespace gander::engine
