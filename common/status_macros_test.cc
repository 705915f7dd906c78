#include "common/status_macros.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace gander {
namespace {

absl::StatusOr<int> Parse(const std::string& s) {
  if (s.empty()) return absl::InvalidArgumentError("empty");
  return static_cast<int>(s.size());
}

absl::Status Check(bool ok) { return ok ? absl::OkStatus() : absl::DataLossError("bad"); }

absl::StatusOr<int> Twice(const std::string& s, bool ok) {
  GANDER_RETURN_IF_ERROR(Check(ok));
  GANDER_ASSIGN_OR_RETURN(int n, Parse(s));
  GANDER_ASSIGN_OR_RETURN(std::unique_ptr<int> p, absl::StatusOr<std::unique_ptr<int>>(
                                                      std::make_unique<int>(n)));  // move-only
  return 2 * *p;
}

TEST(StatusMacros, PassValuesAndReturnErrors) {
  EXPECT_EQ(*Twice("abc", true), 6);
  EXPECT_EQ(Twice("", true).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Twice("abc", false).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace gander
