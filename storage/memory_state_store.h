// The in-memory StateStore: the simple, obviously-correct model of the
// store's semantics (storage/state_store.h), used as the oracle of the
// differential test against the RocksDB store, and wherever a test needs a
// store without a disk. Nothing survives the object.
//
// Example:
//   FakeClock clock;
//   std::unique_ptr<StateStore> store =
//       NewMemoryStateStore({.retained_versions = 4, .clock = &clock});
//   auto info = store->CreateStream({.id = "s1", .tenant = "acme", .model_fingerprint = "m"});
//
// Ownership: the caller owns the store; options.clock is borrowed.
// Thread safety: every method is thread-safe (one mutex serializes them).
// Failure behaviour: as the interface states; it never returns DATA_LOSS,
// UNAVAILABLE or RESOURCE_EXHAUSTED (nothing it stores can be corrupted),
// and a retained_versions below 1 is taken as 1.
#ifndef GANDER_STORAGE_MEMORY_STATE_STORE_H_
#define GANDER_STORAGE_MEMORY_STATE_STORE_H_

#include <memory>

#include "storage/state_store.h"

namespace gander::storage {

std::unique_ptr<StateStore> NewMemoryStateStore(const StoreOptions& options);

}  // namespace gander::storage

#endif  // GANDER_STORAGE_MEMORY_STATE_STORE_H_
