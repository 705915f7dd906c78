#include "engine/device/host_executor.h"

#include <algorithm>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace gander::engine::device {
namespace {

// Counts down an injected failure; true when this call must fail.
bool Trip(int& countdown) { return countdown > 0 && --countdown == 0; }

}  // namespace

HostExecutor::HostExecutor(Model* model, int slots, int max_rows)
    : model_(model),
      max_rows_(max_rows),
      slots_(std::max(slots, 0), model->NewState()),
      loaded_(std::max(slots, 0), false) {}

absl::Status HostExecutor::Load(absl::Span<const SlotCopy> copies) {
  if (Trip(fail_load_)) return absl::InternalError("injected Load failure");
  for (const SlotCopy& copy : copies) {
    if (copy.slot < 0 || copy.slot >= slot_count()) {
      return absl::FailedPreconditionError(absl::StrCat("Load into slot ", copy.slot));
    }
    absl::Span<float> dst = slots_[copy.slot].floats();
    std::memcpy(dst.data(), copy.host, dst.size() * sizeof(float));
    loaded_[copy.slot] = true;
    ++loads_;
  }
  return absl::OkStatus();
}

absl::Status HostExecutor::Store(absl::Span<const SlotCopy> copies) {
  if (Trip(fail_store_)) return absl::InternalError("injected Store failure");
  for (const SlotCopy& copy : copies) {
    if (copy.slot < 0 || copy.slot >= slot_count() || !loaded_[copy.slot]) {
      return absl::FailedPreconditionError(absl::StrCat("Store from unloaded slot ", copy.slot));
    }
    absl::Span<const float> src = slots_[copy.slot].floats();
    std::memcpy(copy.host, src.data(), src.size() * sizeof(float));
    ++stores_;
  }
  return absl::OkStatus();
}

absl::Status HostExecutor::Forward(const Pass& pass, absl::Span<float> logits) {
  if (pass.rows() > max_rows_) {
    return absl::FailedPreconditionError(
        absl::StrCat("pass of ", pass.rows(), " rows; max_rows is ", max_rows_));
  }
  absl::flat_hash_set<int> seen;
  for (int slot : pass.seg_slot) {
    if (slot < 0 || slot >= slot_count() || !loaded_[slot] || !seen.insert(slot).second) {
      return absl::FailedPreconditionError(
          absl::StrCat("pass uses slot ", slot, " (unloaded, out of range or repeated)"));
    }
  }
  if (Trip(fail_forward_)) {
    for (int slot : pass.seg_slot) {
      for (float& f : slots_[slot].floats()) f = 1e30f;
    }
    return absl::InternalError("injected Forward failure");
  }
  ++passes_;
  const int vocab = config().vocab;
  std::vector<Backend::Segment> segments;
  for (int s = 0; s < pass.segments(); ++s) {
    segments.push_back(
        {absl::MakeConstSpan(pass.tokens).subspan(pass.seg_start[s], pass.seg_len[s]),
         &slots_[pass.seg_slot[s]]});
  }
  std::vector<float> out(segments.size() * static_cast<size_t>(vocab));
  if (absl::Status s = model_->Run(segments, absl::MakeSpan(out)); !s.ok()) return s;
  for (size_t k = 0; k < pass.logit_seg.size(); ++k) {
    std::memcpy(logits.data() + static_cast<size_t>(pass.logit_dest[k]) * vocab,
                out.data() + static_cast<size_t>(pass.logit_seg[k]) * vocab, vocab * sizeof(float));
  }
  return absl::OkStatus();
}

}  // namespace gander::engine::device
