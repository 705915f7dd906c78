// Tests of the .npy reader and writer: files NumPy wrote, round trips, and
// every way a file can be refused.
//
// engine/testdata/ holds two files written by NumPy 1.24:
//   npy_f32_2x3.npy:  np.save(path, np.array([[1.5, -2.25, 3.0], [0.1, 1e-30, -7e20]], '<f4'))
//   npy_i32_4_v2.npy: np.lib.format.write_array(f, np.array([-2**31, -1, 0, 2**31 - 1], '<i4'),
//                                               version=(2, 0))
#include "engine/npy.h"

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A file of the source tree, as the test sees it (Bazel runfiles).
std::string RunfilePath(const std::string& relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return relative;
  return absl::StrCat(srcdir, "/", workspace, "/", relative);
}

std::string TestDataPath(const std::string& name) { return RunfilePath("engine/testdata/" + name); }

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// An .npy file with the given header text (unpadded) and data bytes.
std::string NpyBytes(const std::string& header, const std::string& data, int major = 1) {
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  int length_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < length_bytes; ++i) {
    out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xFF));
  }
  return out + header + data;
}

std::string FloatBytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// Writes `bytes` to a temporary file and reads it back with ReadNpy.
absl::StatusOr<NpyArray> ReadBytes(const std::string& name, const std::string& bytes) {
  std::string path = TempPath(name);
  WriteFile(path, bytes);
  return ReadNpy(path);
}

const char kF32Header[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";

TEST(NpyTest, ReadsFloat32WrittenByNumpy) {
  absl::StatusOr<NpyArray> array = ReadNpy(TestDataPath("npy_f32_2x3.npy"));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->dtype(), NpyDtype::kFloat32);
  EXPECT_THAT(array->shape(), ElementsAre(2, 3));
  EXPECT_EQ(array->size(), 6);
  EXPECT_EQ(array->ShapeString(), "(2, 3)");
  EXPECT_THAT(array->floats(), ElementsAre(1.5f, -2.25f, 3.0f, 0.1f, 1e-30f, -7e20f));
  EXPECT_TRUE(array->ints().empty());
  EXPECT_EQ(array->bytes().size(), 24u);
}

TEST(NpyTest, ReadsInt32Version2WrittenByNumpy) {
  absl::StatusOr<NpyArray> array = ReadNpy(TestDataPath("npy_i32_4_v2.npy"));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->dtype(), NpyDtype::kInt32);
  EXPECT_THAT(array->shape(), ElementsAre(4));
  EXPECT_EQ(array->ShapeString(), "(4,)");
  EXPECT_THAT(array->ints(), ElementsAre(INT32_MIN, -1, 0, INT32_MAX));
  EXPECT_TRUE(array->floats().empty());
}

TEST(NpyTest, ReadsTheRwkv7GoldenFixtures) {
  const std::string dir = RunfilePath("tests/fixtures/rwkv7/");
  absl::StatusOr<NpyArray> tokens = ReadNpy(dir + "tiny_fp32.t1200.tokens.npy");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->dtype(), NpyDtype::kInt32);
  EXPECT_THAT(tokens->shape(), ElementsAre(1200));
  absl::StatusOr<NpyArray> states = ReadNpy(dir + "tiny_fp32.batch.final_state.npy");
  ASSERT_TRUE(states.ok()) << states.status();
  EXPECT_EQ(states->dtype(), NpyDtype::kFloat32);
  EXPECT_THAT(states->shape(), ElementsAre(4, 16896));
}

TEST(NpyTest, WritesTheSameBytesAsNumpy) {
  std::vector<float> values = {1.5f, -2.25f, 3.0f, 0.1f, 1e-30f, -7e20f};
  std::string path = TempPath("same_as_numpy.npy");
  ASSERT_TRUE(WriteNpyFloat32(path, values, {2, 3}).ok());
  EXPECT_EQ(ReadFile(path), ReadFile(TestDataPath("npy_f32_2x3.npy")));
}

TEST(NpyTest, Float32RoundTripsInEveryShape) {
  std::vector<float> values(24);
  for (int i = 0; i < 24; ++i) values[i] = static_cast<float>(i) * 0.37f - 4.0f;
  const std::vector<std::vector<int64_t>> shapes = {{24}, {2, 12}, {2, 3, 4}, {1, 2, 1, 12}};
  for (const std::vector<int64_t>& shape : shapes) {
    std::string path = TempPath("round_trip.npy");
    ASSERT_TRUE(WriteNpyFloat32(path, values, shape).ok());
    // The data starts at a multiple of 64 bytes, as NumPy writes it.
    EXPECT_EQ((ReadFile(path).size() - values.size() * 4) % 64, 0u);
    absl::StatusOr<NpyArray> array = ReadNpy(path);
    ASSERT_TRUE(array.ok()) << array.status();
    EXPECT_EQ(array->shape(), shape);
    EXPECT_EQ(std::vector<float>(array->floats().begin(), array->floats().end()), values);
  }
}

TEST(NpyTest, ScalarAndEmptyArraysRoundTrip) {
  std::string path = TempPath("scalar.npy");
  std::vector<float> one = {42.5f};
  ASSERT_TRUE(WriteNpyFloat32(path, one, {}).ok());
  absl::StatusOr<NpyArray> scalar = ReadNpy(path);
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_TRUE(scalar->shape().empty());
  EXPECT_EQ(scalar->ShapeString(), "()");
  EXPECT_THAT(scalar->floats(), ElementsAre(42.5f));

  ASSERT_TRUE(WriteNpyInt32(path, {}, {3, 0}).ok());
  absl::StatusOr<NpyArray> empty = ReadNpy(path);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->dtype(), NpyDtype::kInt32);
  EXPECT_THAT(empty->shape(), ElementsAre(3, 0));
  EXPECT_EQ(empty->size(), 0);
}

TEST(NpyTest, Int32RoundTrips) {
  std::vector<int32_t> values = {7, -3, 0, 1 << 30, -(1 << 30), 12345};
  std::string path = TempPath("ints.npy");
  ASSERT_TRUE(WriteNpyInt32(path, values, {3, 2}).ok());
  absl::StatusOr<NpyArray> array = ReadNpy(path);
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->dtype(), NpyDtype::kInt32);
  EXPECT_THAT(array->shape(), ElementsAre(3, 2));
  EXPECT_THAT(array->ints(), ElementsAre(7, -3, 0, 1 << 30, -(1 << 30), 12345));
}

TEST(NpyTest, AcceptsHeaderVariantsNumpyMayWrite) {
  // Keys in another order, double quotes, no trailing comma, version 3.0.
  std::string header = "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f4\"}\n";
  absl::StatusOr<NpyArray> array =
      ReadBytes("variant.npy", NpyBytes(header, FloatBytes({1, 2}), 3));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_THAT(array->floats(), ElementsAre(1.0f, 2.0f));
}

TEST(NpyTest, MissingFileIsNotFound) {
  absl::StatusOr<NpyArray> array = ReadNpy(TempPath("does_not_exist.npy"));
  EXPECT_EQ(array.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(array.status().message(), HasSubstr("does_not_exist.npy"));
}

TEST(NpyTest, DirectoryIsInvalidArgument) {
  absl::StatusOr<NpyArray> array = ReadNpy(::testing::TempDir());
  EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(array.status().message(), HasSubstr("not a regular file"));
}

struct BadFile {
  const char* name;
  std::string bytes;
  const char* message;  // a part of the expected error message
};

TEST(NpyTest, RefusesMalformedFilesWithInvalidArgument) {
  const std::string data = FloatBytes({1, 2});
  const std::vector<BadFile> cases = {
      {"empty", "", "bad magic"},
      {"bad_magic", "\x93NUMPX\x01\x00" + std::string(70, ' '), "bad magic"},
      {"version_4", NpyBytes(kF32Header, data).replace(6, 1, "\x04"),
       "unsupported .npy version 4.0"},
      {"version_1_1", NpyBytes(kF32Header, data).replace(7, 1, "\x01"),
       "unsupported .npy version 1.1"},
      {"no_header_length", std::string("\x93NUMPY\x01\x00\x10", 9),
       "ends inside the header length"},
      {"short_header", NpyBytes(kF32Header, "").substr(0, 30), "truncated .npy header"},
      {"not_a_dict", NpyBytes("['descr', '<f4']\n", data), "expected '{'"},
      {"missing_shape", NpyBytes("{'descr': '<f4', 'fortran_order': False}\n", data),
       "missing key 'shape'"},
      {"missing_descr", NpyBytes("{'fortran_order': False, 'shape': (2,)}\n", data),
       "missing key 'descr'"},
      {"unknown_key",
       NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", data),
       "unknown key 'x'"},
      {"duplicate_key",
       NpyBytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n", data),
       "duplicate key 'descr'"},
      {"bad_bool", NpyBytes("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}\n", data),
       "expected True or False"},
      {"negative_dim", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}\n", data),
       "non-negative integer"},
      {"int_not_tuple", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}\n", data),
       "trailing ','"},
      {"shape_list", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}\n", data),
       "expected '('"},
      {"unterminated", NpyBytes("{'descr': '<f4\n", data), "unterminated string"},
      {"escape", NpyBytes("{'descr': '<\\f4', 'fortran_order': False, 'shape': (2,)}\n", data),
       "escapes in strings are not supported"},
      {"missing_colon", NpyBytes("{'descr' '<f4'}\n", data), "expected ':' after key 'descr'"},
      {"trailing_garbage",
       NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x\n", data),
       "unexpected characters after '}'"},
      {"fortran_order",
       NpyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", data),
       "fortran_order is True"},
      {"float64", NpyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", data),
       "unsupported dtype '<f8'"},
      {"big_endian", NpyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", data),
       "unsupported dtype '>f4'"},
      {"int64", NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }\n", data),
       "unsupported dtype '<i8'"},
      {"truncated_data", NpyBytes(kF32Header, data.substr(0, 7)),
       "truncated data: shape (2,) needs 8 bytes, the file has 7"},
      {"trailing_data", NpyBytes(kF32Header, data + "xy"), "2 unexpected bytes after the data"},
      {"huge_shape",
       NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 2), }\n", data),
       "too many elements"},
  };
  for (const BadFile& bad : cases) {
    absl::StatusOr<NpyArray> array = ReadBytes(absl::StrCat(bad.name, ".npy"), bad.bytes);
    EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument)
        << bad.name << ": " << array.status();
    EXPECT_THAT(array.status().message(), HasSubstr(bad.message)) << bad.name;
    EXPECT_THAT(array.status().message(), HasSubstr(bad.name)) << "the path is named";
  }
}

TEST(NpyTest, WriteRefusesAShapeThatDoesNotMatch) {
  std::vector<float> values = {1, 2, 3, 4, 5, 6};
  std::string path = TempPath("mismatch.npy");
  absl::Status status = WriteNpyFloat32(path, values, {4, 2});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("shape (4, 2) holds 8 elements but 6 were given"));

  status = WriteNpyInt32(path, {1, 2}, {-1, -2});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("negative dimension -1"));

  status = WriteNpyFloat32(path, {}, {});  // a scalar needs one value
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(NpyTest, WriteIntoAMissingDirectoryIsNotFound) {
  std::vector<float> values = {1};
  absl::Status status = WriteNpyFloat32(TempPath("no/such/dir/x.npy"), values, {1});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("no/such/dir/x.npy"));
}

}  // namespace
}  // namespace gander::engine
