// How a Backend::Run batch is laid out for an accelerator: one or more
// passes, each at most max_rows rows (tokens), with the index arrays the
// device kernels read. Pure host logic: no device calls.
//
// A pass holds S segments in row order; segment s is one stream's
// consecutive tokens, rows seg_start[s] .. seg_start[s] + seg_len[s] - 1,
// and reads and writes the state in slot seg_slot[s]. A segment longer than
// what fits is cut into chunks run in successive passes (a stream's chunks
// stay in order; its logits come from its last chunk only).
//
// Example:
//   std::vector<Pass> passes = PlanPasses(segments, slots, /*max_rows=*/512);
//   for (const Pass& pass : passes) executor->Forward(pass, logits);
#ifndef GANDER_ENGINE_DEVICE_PASS_PLAN_H_
#define GANDER_ENGINE_DEVICE_PASS_PLAN_H_

#include <vector>

#include "absl/types/span.h"

namespace gander::engine::device {

struct Pass {
  std::vector<int> tokens;    // [rows]
  std::vector<int> row_slot;  // [rows] slot of the row's stream
  // [rows] the row before in the same stream, or -1 for a segment's first
  // row (whose token shift comes from the slot's saved state).
  std::vector<int> prev_row;
  std::vector<int> seg_start;     // [S]
  std::vector<int> seg_len;       // [S] >= 1
  std::vector<int> seg_slot;      // [S] distinct
  std::vector<int> seg_last_row;  // [S] seg_start + seg_len - 1
  // Segments whose last-row logits are wanted (the chunk that ends a caller
  // segment), in increasing order, and for each the caller's segment index:
  // its logits go to row logit_dest[k] of the caller's [segments, V] output
  // (consecutive: logit_dest[k] = logit_dest[0] + k).
  std::vector<int> logit_seg;   // [K] index into the pass's segments
  std::vector<int> logit_row;   // [K] = seg_last_row[logit_seg[k]]
  std::vector<int> logit_dest;  // [K]

  int rows() const { return static_cast<int>(tokens.size()); }
  int segments() const { return static_cast<int>(seg_start.size()); }
  // Every segment is one token with logits: a decode step, the shape that
  // CUDA graphs are captured for.
  bool decode_only() const {
    return rows() == segments() && static_cast<int>(logit_seg.size()) == segments();
  }
};

// Lays out caller segments (tokens[s], in slot slots[s]) as passes of at
// most max_rows rows (max_rows >= 1). Segments keep their order; a segment
// that does not fit in the current pass fills it and continues in the next.
// tokens[s] must not be empty; slots must be distinct.
std::vector<Pass> PlanPasses(absl::Span<const absl::Span<const int>> tokens,
                             absl::Span<const int> slots, int max_rows);

}  // namespace gander::engine::device

#endif  // GANDER_ENGINE_DEVICE_PASS_PLAN_H_
