// Which stream state sits in which device slot: a fixed pool of `capacity`
// slots, filled on demand and emptied least recently used first. Pure host
// bookkeeping (no device calls): the caller performs the copies it asks for.
//
// Keys are opaque pointers (the Backend uses the RecurrentState's address).
// A resident key is "dirty" when the device copy is newer than the host's.
//
// Thread-compatible: one thread at a time.
//
// Example:
//   SlotTable table(64);
//   absl::StatusOr<SlotTable::Placement> p = table.Place(keys);
//   for (const auto& e : p->evictions) if (e.dirty) Download(e.slot, e.key);
//   for (int i : p->loads) Upload(p->slots[i], keys[i]);
//   ... run ...; for (key : keys) table.MarkDirty(key);
#ifndef GANDER_ENGINE_DEVICE_SLOT_TABLE_H_
#define GANDER_ENGINE_DEVICE_SLOT_TABLE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace gander::engine::device {

class SlotTable {
 public:
  explicit SlotTable(int capacity);

  int capacity() const { return capacity_; }
  int resident() const { return static_cast<int>(entries_.size()); }

  struct Eviction {
    const void* key = nullptr;
    int slot = -1;
    bool dirty = false;  // the device copy must be copied out before reuse
  };
  struct Placement {
    std::vector<int> slots;           // [keys] the slot of each key
    std::vector<int> loads;           // indices of keys that were not resident
    std::vector<Eviction> evictions;  // keys pushed out to make room
  };
  // Gives each of `keys` (distinct) a slot for the coming pass. Resident keys
  // keep theirs; the others take free slots first, then the slots of the
  // least recently used keys not in `keys` (which are forgotten: the caller
  // copies dirty ones out before loading the slot). Every key is then
  // resident, clean if loaded, and counts as used now.
  // RESOURCE_EXHAUSTED when keys outnumber the slots (nothing changes);
  // INVALID_ARGUMENT for a repeated key.
  absl::StatusOr<Placement> Place(absl::Span<const void* const> keys);

  struct Entry {
    int slot = -1;
    bool dirty = false;
  };
  std::optional<Entry> Find(const void* key) const;
  void MarkDirty(const void* key);
  void MarkClean(const void* key);
  // Forgets `key`; returns what it had, if it was resident.
  std::optional<Entry> Remove(const void* key);

 private:
  struct Resident {
    int slot = -1;
    bool dirty = false;
    uint64_t last_use = 0;
  };
  int capacity_;
  uint64_t clock_ = 0;
  absl::flat_hash_map<const void*, Resident> entries_;
  std::vector<int> free_;  // free slots, taken from the back
};

}  // namespace gander::engine::device

#endif  // GANDER_ENGINE_DEVICE_SLOT_TABLE_H_
