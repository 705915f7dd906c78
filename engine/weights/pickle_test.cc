#include "engine/weights/pickle.h"

#include <string>

#include "absl/strings/match.h"
#include "engine/weights/test_util.h"
#include "engine/weights/zip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine::weights_internal {
namespace {

using ::testing::HasSubstr;

// Pickle fragments, written by hand.
std::string Le(uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}
std::string Str(const std::string& s) { return "X" + Le(s.size(), 4) + s; }
std::string ShortStr(const std::string& s) { return "\x8c" + Le(s.size(), 1) + s; }
std::string Int(int v) { return v < 256 ? "K" + Le(v, 1) : "M" + Le(v, 2); }
std::string Global(const std::string& m, const std::string& n) { return "c" + m + "\n" + n + "\n"; }
const std::string kProto = "\x80\x02";
const std::string kOrderedDict = Global("collections", "OrderedDict") + ")R";

// _rebuild_tensor_v2(('storage', <type>, key, 'cpu', numel), offset, size, stride, False,
// OrderedDict())
std::string Tensor(const std::string& storage_type, const std::string& key,
                   const std::string& numel, const std::string& offset, const std::string& size,
                   const std::string& stride) {
  return Global("torch._utils", "_rebuild_tensor_v2") + "((" + Str("storage") +
         Global("torch", storage_type) + Str(key) + Str("cpu") + numel + "tQ" + offset + size +
         stride + "\x89" + kOrderedDict + "tR";
}
std::string SimpleTensor() {
  return Tensor("BFloat16Storage", "0", "M" + Le(768, 2), Int(0), Int(768) + "\x85",
                Int(1) + "\x85");
}

absl::StatusOr<std::vector<PickledTensor>> Parse(const std::string& pickle) {
  return ParseStateDictPickle(
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(pickle.data()), pickle.size()));
}

TEST(PickleTest, OrderedDictOfTensors) {
  const std::string pickle =
      kProto + kOrderedDict + "q" + Le(0, 1) + "(" + Str("emb.weight") +
      Tensor("BFloat16Storage", "0", "J" + Le(6 * 4, 4), Int(0), Int(6) + Int(4) + "\x86",
             Int(4) + Int(1) + "\x86") +
      ShortStr("ln_out.bias") +
      Tensor("FloatStorage", "7", Int(10), "\x8a\x01\x02", Int(8) + "\x85", Int(1) + "\x85") +
      Str("head.weight") +
      Tensor("HalfStorage", "x", Int(24), Int(0), "(" + Int(2) + Int(3) + Int(4) + "t",
             "(" + Int(12) + Int(4) + Int(1) + "t") +
      "u.";
  absl::StatusOr<std::vector<PickledTensor>> tensors = Parse(pickle);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  ASSERT_EQ(tensors->size(), 3u);
  const PickledTensor& emb = (*tensors)[0];
  EXPECT_EQ(emb.name, "emb.weight");
  EXPECT_EQ(emb.dtype, DType::kBF16);
  EXPECT_EQ(emb.storage_key, "0");
  EXPECT_EQ(emb.storage_numel, 24);
  EXPECT_EQ(emb.storage_offset, 0);
  EXPECT_EQ(emb.shape, (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(emb.stride, (std::vector<int64_t>{4, 1}));
  const PickledTensor& ln = (*tensors)[1];
  EXPECT_EQ(ln.name, "ln_out.bias");
  EXPECT_EQ(ln.dtype, DType::kF32);
  EXPECT_EQ(ln.storage_key, "7");
  EXPECT_EQ(ln.storage_offset, 2);  // LONG1
  EXPECT_EQ((*tensors)[2].dtype, DType::kF16);
  EXPECT_EQ((*tensors)[2].shape, (std::vector<int64_t>{2, 3, 4}));
}

TEST(PickleTest, PlainDictParametersMemoAndBuild) {
  // A plain dict, memo through LONG_BINPUT, MEMOIZE and LONG_BINGET,
  // tensors wrapped in _rebuild_parameter, a FRAME, a negative LONG1, and a
  // BUILD of the dict's attributes (as state_dict()'s _metadata).
  const std::string pickle = "\x80\x04\x95" + Le(0, 8) + "}r" + Le(1000, 4) + "(" + Str("a") +
                             Global("torch._utils", "_rebuild_parameter") + "\x94" + "(" +
                             SimpleTensor() + "\x88" + kOrderedDict + "tR" + Str("b") + "j" +
                             Le(1, 4) + "(" + SimpleTensor() + "\x89" + "N" + "tR" + "u" + "}" +
                             Str("_metadata") + "\x8a\x01\xff" + "sb.";
  absl::StatusOr<std::vector<PickledTensor>> tensors = Parse(pickle);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  ASSERT_EQ(tensors->size(), 2u);
  EXPECT_EQ((*tensors)[0].name, "a");
  EXPECT_EQ((*tensors)[1].name, "b");
  EXPECT_EQ((*tensors)[1].shape, (std::vector<int64_t>{768}));
}

void ExpectError(const std::string& pickle, const std::string& message) {
  absl::StatusOr<std::vector<PickledTensor>> tensors = Parse(pickle);
  ASSERT_FALSE(tensors.ok());
  EXPECT_EQ(tensors.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tensors.status().message()), HasSubstr(message));
}

TEST(PickleTest, RefusesOtherGlobals) {
  ExpectError(kProto + Global("os", "system") + Str("ls") + "\x85R.",
              "byte offset 2: unsupported pickle global 'os.system'");
  ExpectError(kProto + Global("torch", "DoubleStorage"),
              "unsupported tensor storage type 'torch.DoubleStorage'");
  ExpectError(kProto + "}" + Str("w") +
                  Tensor("BFloat16Storage", "0", Int(4), Int(0), Int(4) + "\x85", Int(1) + "\x85") +
                  "s" + Global("builtins", "eval") + ".",
              "unsupported pickle global 'builtins.eval'");
}

TEST(PickleTest, RefusesMalformedPrograms) {
  ExpectError(kProto + "I1\n.", "byte offset 2: unsupported pickle opcode 0x49");
  ExpectError(kProto + "R.", "pickle stack underflow");
  ExpectError(kProto + "t.", "no MARK");
  ExpectError(kProto + "}", "truncated: no STOP opcode");
  ExpectError(kProto + "X" + Le(65535, 4) + "ab", "truncated: string of 65535 bytes");
  ExpectError(kProto + "h" + Le(5, 1) + ".", "memo entry 5 was never stored");
  ExpectError(kProto + "\x8a\x09" + std::string(9, '\x01') + ".", "does not fit 64 bits");
  ExpectError(kProto + "K\x01.", "the pickle holds a int, not a state dict");
  ExpectError(kProto + "}" + Str("x") + Int(1) + "s.", "state dict entry 'x' is a int");
  ExpectError(kProto + "}" + Int(3) + SimpleTensor() + "s.", "state dict key 0 is a int");
  ExpectError(kProto + "K\x01" + Str("x") + Int(1) + "s.", "SETITEM on a int");
  ExpectError(kProto + "\x80\x07", "unknown pickle protocol 7");
  ExpectError(kProto + "c" + std::string(300, 'a'), "GLOBAL name longer than 256 bytes");
  ExpectError(kProto + Global("torch._utils", "_rebuild_tensor_v2") + "(" + Int(1) + "tR.",
              "called with 1 arguments, expected 6 or 7");
  ExpectError(kProto + "}" + Str("w") +
                  Tensor("BFloat16Storage", "0", Int(4), Int(0), Int(4) + "\x85",
                         Int(1) + Int(1) + "\x86") +
                  "s.",
              "tensor size has 1 dimensions but stride has 2");
  ExpectError(
      kProto + "(" + Str("storage") + Str("not a type") + Str("0") + Str("cpu") + Int(1) + "tQ.",
      "persistent id names no storage type");
}

// Sanitizer builds run ~50x slower: they sample every 7th byte instead.
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kStride = 7;
#else
constexpr size_t kStride = 1;
#endif

// Flips, overwrites and truncates every byte of real checkpoints' pickles:
// each variant must give an answer (usually an error), never a crash.
void Mutate(const std::string& pickle) {
  ASSERT_TRUE(Parse(pickle).ok());
  for (size_t cut = 0; cut < pickle.size(); cut += kStride) {
    EXPECT_FALSE(Parse(pickle.substr(0, cut)).ok()) << cut;
  }
  size_t variants = 0, errors = 0;
  for (size_t i = 0; i < pickle.size(); i += kStride) {
    for (uint8_t value : {static_cast<uint8_t>(pickle[i] ^ 0xff), uint8_t{0}, uint8_t{0x7f},
                          static_cast<uint8_t>(pickle[i] + 1)}) {
      std::string mutated = pickle;
      mutated[i] = static_cast<char>(value);
      ++variants;
      if (!Parse(mutated).ok()) ++errors;
    }
  }
  // Most single-byte changes break a pickle; some (a digit of a shape, a
  // memo index) leave a valid one.
  EXPECT_GT(errors, variants / 4);
}

std::string PickleOf(const std::string& pth) {
  const std::string file = weights_test::ReadFileOrDie(pth);
  const auto bytes =
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(file.data()), file.size());
  absl::StatusOr<std::vector<ZipEntry>> entries = ReadZipDirectory(bytes);
  EXPECT_TRUE(entries.ok()) << entries.status();
  for (const ZipEntry& e : *entries) {
    if (absl::EndsWith(e.name, "/data.pkl")) return file.substr(e.data_offset, e.size);
  }
  ADD_FAILURE() << "no data.pkl in " << pth;
  return "";
}

TEST(PickleTest, MutatedTorchPickleNeverCrashes) {
  Mutate(PickleOf("engine/weights/testdata/tiny_torch.pth"));
}

TEST(PickleTest, MutatedWriterPickleNeverCrashes) {
  const std::string path = weights_test::TempPath("m.pth");
  RandomModelSpec spec;
  spec.vocab = 8;
  ASSERT_TRUE(WriteRandomModel(spec, path, TensorFormat::kPth, FileDtype::kBF16).ok());
  Mutate(PickleOf(path));
}

}  // namespace
}  // namespace gander::engine::weights_internal
