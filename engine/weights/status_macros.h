// Early-return helpers for absl::Status / absl::StatusOr inside
// engine/weights/ (the packaged Abseil predates ABSL_RETURN_IF_ERROR).
// Internal to engine/weights: include from .cc files only.
//
// Example:
//   GANDER_WEIGHTS_RETURN_IF_ERROR(CheckHeader(bytes));
//   GANDER_WEIGHTS_ASSIGN_OR_RETURN(TensorFile file, TensorFile::Open(path));
#ifndef GANDER_ENGINE_WEIGHTS_STATUS_MACROS_H_
#define GANDER_ENGINE_WEIGHTS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the status from the enclosing function if it is not OK.
#define GANDER_WEIGHTS_RETURN_IF_ERROR(expr)         \
  do {                                               \
    const ::absl::Status gander_status_ = (expr);    \
    if (!gander_status_.ok()) return gander_status_; \
  } while (false)

#define GANDER_WEIGHTS_CONCAT_INNER_(a, b) a##b
#define GANDER_WEIGHTS_CONCAT_(a, b) GANDER_WEIGHTS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status,
// otherwise moves the value into `lhs` (a declaration or an lvalue).
#define GANDER_WEIGHTS_ASSIGN_OR_RETURN(lhs, rexpr)                                              \
  GANDER_WEIGHTS_ASSIGN_OR_RETURN_IMPL_(GANDER_WEIGHTS_CONCAT_(gander_statusor_, __LINE__), lhs, \
                                        rexpr)

#define GANDER_WEIGHTS_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                          \
  if (!statusor.ok()) return std::move(statusor).status();          \
  lhs = std::move(statusor).value()

#endif  // GANDER_ENGINE_WEIGHTS_STATUS_MACROS_H_
