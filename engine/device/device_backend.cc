#include "engine/device/device_backend.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gander::engine::device {

DeviceBackend::DeviceBackend(std::unique_ptr<DeviceExecutor> executor, std::string fingerprint,
                             const char* name, const char* weight_dtype)
    : executor_(std::move(executor)),
      fingerprint_(std::move(fingerprint)),
      name_(name),
      weight_dtype_(weight_dtype),
      slots_(executor_->slot_count()) {}

absl::Status DeviceBackend::Run(absl::Span<const Segment> segments, absl::Span<float> logits) {
  if (absl::Status s = CheckRunArguments(config(), segments, logits); !s.ok()) return s;
  std::vector<const void*> keys;
  keys.reserve(segments.size());
  for (const Segment& segment : segments) {
    if (lost_.contains(segment.state)) {
      return absl::DataLossError(
          "a stream's state was lost by an earlier device failure; release it and restore the "
          "stream from its checkpoint");
    }
    keys.push_back(segment.state);
  }
  absl::flat_hash_set<const void*> was_dirty;
  for (const void* key : keys) {
    if (auto entry = slots_.Find(key); entry.has_value() && entry->dirty) was_dirty.insert(key);
  }

  absl::StatusOr<SlotTable::Placement> placement = slots_.Place(keys);
  if (!placement.ok()) return placement.status();

  // Streams pushed out: copy the dirty ones back to their host states.
  std::vector<DeviceExecutor::SlotCopy> stores;
  for (const SlotTable::Eviction& eviction : placement->evictions) {
    if (!eviction.dirty) continue;
    auto* state = static_cast<RecurrentState*>(const_cast<void*>(eviction.key));
    stores.push_back({eviction.slot, state->floats().data()});
  }
  if (!stores.empty()) {
    if (absl::Status s = executor_->Store(stores); !s.ok()) {
      for (const SlotTable::Eviction& eviction : placement->evictions) {
        if (eviction.dirty) lost_.insert(eviction.key);
      }
      DropAfterFailure(segments, was_dirty);
      return s;
    }
  }

  std::vector<DeviceExecutor::SlotCopy> loads;
  for (int i : placement->loads) {
    loads.push_back({placement->slots[i], segments[i].state->floats().data()});
  }
  if (!loads.empty()) {
    if (absl::Status s = executor_->Load(loads); !s.ok()) {
      DropAfterFailure(segments, was_dirty);
      return s;
    }
  }

  std::vector<absl::Span<const int>> tokens;
  tokens.reserve(segments.size());
  for (const Segment& segment : segments) tokens.push_back(segment.tokens);
  for (const Pass& pass : PlanPasses(tokens, placement->slots, executor_->max_rows())) {
    if (absl::Status s = executor_->Forward(pass, logits); !s.ok()) {
      // Every stream of the batch may have advanced on the device: none of
      // them has a usable device copy, and the host copy of those that
      // were dirty before is behind.
      DropAfterFailure(segments, was_dirty);
      return s;
    }
  }
  for (const void* key : keys) slots_.MarkDirty(key);
  return absl::OkStatus();
}

void DeviceBackend::DropAfterFailure(absl::Span<const Segment> segments,
                                     const absl::flat_hash_set<const void*>& was_dirty) {
  for (const Segment& segment : segments) {
    slots_.Remove(segment.state);
    if (was_dirty.contains(segment.state)) lost_.insert(segment.state);
  }
}

absl::Status DeviceBackend::Sync(RecurrentState* state) {
  if (lost_.contains(state)) {
    return absl::DataLossError("the stream's state was lost by a device failure");
  }
  std::optional<SlotTable::Entry> entry = slots_.Find(state);
  if (!entry.has_value() || !entry->dirty) return absl::OkStatus();
  if (state->floats().size() != config().StateFloats()) {
    return absl::InvalidArgumentError("state is shaped for another model");
  }
  const DeviceExecutor::SlotCopy copy{entry->slot, state->floats().data()};
  if (absl::Status s = executor_->Store({&copy, 1}); !s.ok()) {
    slots_.Remove(state);
    lost_.insert(state);
    return s;
  }
  slots_.MarkClean(state);
  return absl::OkStatus();
}

absl::Status DeviceBackend::Release(RecurrentState* state) {
  if (lost_.erase(state) > 0) {
    slots_.Remove(state);
    return absl::DataLossError("the stream's state was lost by a device failure");
  }
  absl::Status synced = Sync(state);
  slots_.Remove(state);
  lost_.erase(state);
  return synced;
}

}  // namespace gander::engine::device
