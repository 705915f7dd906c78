// Early-return helpers for absl::Status and absl::StatusOr, for every layer
// above kernels/ (the packaged Abseil predates ABSL_RETURN_IF_ERROR).
//
// Example:
//   absl::StatusOr<Header> ReadHeader(absl::string_view bytes) {
//     GANDER_RETURN_IF_ERROR(CheckMagic(bytes));
//     GANDER_ASSIGN_OR_RETURN(uint32_t length, ReadU32(bytes, 8));
//     ...
//   }
#ifndef GANDER_COMMON_STATUS_MACROS_H_
#define GANDER_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the status of `expr` (an absl::Status) from the enclosing function
// unless it is OK.
#define GANDER_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    const ::absl::Status gander_status_ = (expr);    \
    if (!gander_status_.ok()) return gander_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the enclosing function, otherwise moves the value into `lhs` (a declaration
// such as `int n` or an existing lvalue).
#define GANDER_ASSIGN_OR_RETURN(lhs, rexpr) \
  GANDER_ASSIGN_OR_RETURN_IMPL_(GANDER_STATUS_CONCAT_(gander_statusor_, __LINE__), lhs, rexpr)

#define GANDER_STATUS_CONCAT_INNER_(a, b) a##b
#define GANDER_STATUS_CONCAT_(a, b) GANDER_STATUS_CONCAT_INNER_(a, b)
#define GANDER_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

#endif  // GANDER_COMMON_STATUS_MACROS_H_
