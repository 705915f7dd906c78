#include "common/little_endian.h"

#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace gander {
namespace {

TEST(LittleEndian, ByteOrderIsFixed) {
  std::string out;
  AppendLe32(&out, 0x04030201u);
  AppendLe64(&out, 0x0c0b0a0908070605ull);
  EXPECT_EQ(out, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12));
  EXPECT_EQ(LoadLe32(out.data()), 0x04030201u);
  EXPECT_EQ(LoadLe64(out.data() + 4), 0x0c0b0a0908070605ull);
  char two[2];
  StoreLe16(two, 0xbeef);
  EXPECT_EQ(static_cast<unsigned char>(two[0]), 0xef);
  EXPECT_EQ(LoadLe16(two), 0xbeef);
}

TEST(LittleEndian, HighBytesAndUnalignedAccess) {
  char buffer[16] = {};
  StoreLe64(buffer + 3, ~uint64_t{0} - 1);
  EXPECT_EQ(LoadLe64(buffer + 3), ~uint64_t{0} - 1);
  StoreLe32(buffer + 1, 0xffffff80u);
  EXPECT_EQ(LoadLe32(buffer + 1), 0xffffff80u);
}

TEST(LittleEndian, FloatBitsRoundTripEveryKind) {
  for (float f : {0.0f, -0.0f, 1.5f, -3.25e-40f, std::numeric_limits<float>::infinity()}) {
    EXPECT_EQ(FloatBits(BitsFloat(FloatBits(f))), FloatBits(f));
  }
  EXPECT_EQ(FloatBits(1.0f), 0x3f800000u);
  EXPECT_TRUE(std::isnan(BitsFloat(0x7fc00001u)));
  EXPECT_EQ(FloatBits(BitsFloat(0x7fc00001u)), 0x7fc00001u);  // payload kept
}

}  // namespace
}  // namespace gander
