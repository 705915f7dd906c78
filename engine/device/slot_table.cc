#include "engine/device/slot_table.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace gander::engine::device {

SlotTable::SlotTable(int capacity) : capacity_(std::max(capacity, 0)) {
  for (int slot = capacity_ - 1; slot >= 0; --slot) free_.push_back(slot);
}

absl::StatusOr<SlotTable::Placement> SlotTable::Place(absl::Span<const void* const> keys) {
  if (static_cast<int>(keys.size()) > capacity_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "a batch of ", keys.size(), " streams does not fit in ", capacity_, " device state slots"));
  }
  absl::flat_hash_set<const void*> in_batch;
  int missing = 0;
  for (const void* key : keys) {
    if (!in_batch.insert(key).second) {
      return absl::InvalidArgumentError("a state appears twice in one batch");
    }
    if (!entries_.contains(key)) ++missing;
  }

  Placement placement;
  // Victims: least recently used residents outside the batch, as many as
  // the free list lacks.
  const int needed = missing - static_cast<int>(free_.size());
  if (needed > 0) {
    std::vector<std::pair<uint64_t, const void*>> candidates;
    for (const auto& [key, entry] : entries_) {
      if (!in_batch.contains(key)) candidates.push_back({entry.last_use, key});
    }
    std::partial_sort(candidates.begin(), candidates.begin() + needed, candidates.end());
    for (int i = 0; i < needed; ++i) {
      const void* key = candidates[i].second;
      const Resident& entry = entries_.at(key);
      placement.evictions.push_back({key, entry.slot, entry.dirty});
      free_.push_back(entry.slot);
      entries_.erase(key);
    }
  }

  // Uses are ordered within the batch too, so ties never decide a victim.
  const uint64_t base = clock_;
  clock_ += keys.size();
  placement.slots.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto it = entries_.find(keys[i]);
    if (it == entries_.end()) {
      const int slot = free_.back();
      free_.pop_back();
      it = entries_.emplace(keys[i], Resident{slot, false, 0}).first;
      placement.loads.push_back(static_cast<int>(i));
    }
    it->second.last_use = base + i + 1;
    placement.slots.push_back(it->second.slot);
  }
  return placement;
}

std::optional<SlotTable::Entry> SlotTable::Find(const void* key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return Entry{it->second.slot, it->second.dirty};
}

void SlotTable::MarkDirty(const void* key) {
  if (auto it = entries_.find(key); it != entries_.end()) it->second.dirty = true;
}

void SlotTable::MarkClean(const void* key) {
  if (auto it = entries_.find(key); it != entries_.end()) it->second.dirty = false;
}

std::optional<SlotTable::Entry> SlotTable::Remove(const void* key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  Entry entry{it->second.slot, it->second.dirty};
  free_.push_back(entry.slot);
  entries_.erase(it);
  return entry;
}

}  // namespace gander::engine::device
