// SlotTable against a simple model of LRU residency.
#include "engine/device/slot_table.h"

#include <vector>

#include "absl/container/flat_hash_set.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine::device {
namespace {

const void* Key(int i) { return reinterpret_cast<const void*>(static_cast<uintptr_t>(0x1000 + i)); }

std::vector<const void*> Keys(std::initializer_list<int> ids) {
  std::vector<const void*> keys;
  for (int i : ids) keys.push_back(Key(i));
  return keys;
}

TEST(SlotTableTest, NewKeysLoadAndKeepTheirSlots) {
  SlotTable table(3);
  auto first = table.Place(Keys({1, 2}));
  ASSERT_TRUE(first.ok());
  EXPECT_THAT(first->loads, ::testing::ElementsAre(0, 1));
  EXPECT_TRUE(first->evictions.empty());
  EXPECT_NE(first->slots[0], first->slots[1]);
  auto again = table.Place(Keys({2, 1}));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->loads.empty());
  EXPECT_EQ(again->slots[0], first->slots[1]);
  EXPECT_EQ(again->slots[1], first->slots[0]);
}

TEST(SlotTableTest, EvictsLeastRecentlyUsedOutsideTheBatchAndReportsDirt) {
  SlotTable table(2);
  ASSERT_TRUE(table.Place(Keys({1})).ok());
  ASSERT_TRUE(table.Place(Keys({2})).ok());
  table.MarkDirty(Key(1));
  ASSERT_TRUE(table.Place(Keys({2})).ok());  // 1 is now the least recently used
  auto placed = table.Place(Keys({3, 2}));
  ASSERT_TRUE(placed.ok());
  ASSERT_EQ(placed->evictions.size(), 1u);
  EXPECT_EQ(placed->evictions[0].key, Key(1));
  EXPECT_TRUE(placed->evictions[0].dirty);
  EXPECT_EQ(placed->slots[0], placed->evictions[0].slot);
  EXPECT_FALSE(table.Find(Key(1)).has_value());
  EXPECT_FALSE(table.Find(Key(3))->dirty);
}

TEST(SlotTableTest, TooManyKeysAndRepeatsAreRejectedWithoutChange) {
  SlotTable table(2);
  ASSERT_TRUE(table.Place(Keys({1})).ok());
  EXPECT_EQ(table.Place(Keys({1, 2, 3})).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(table.Place(Keys({4, 4})).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table.resident(), 1);
  EXPECT_TRUE(table.Find(Key(1)).has_value());
}

TEST(SlotTableTest, RemoveFreesTheSlot) {
  SlotTable table(1);
  ASSERT_TRUE(table.Place(Keys({1})).ok());
  table.MarkDirty(Key(1));
  auto removed = table.Remove(Key(1));
  ASSERT_TRUE(removed.has_value());
  EXPECT_TRUE(removed->dirty);
  EXPECT_FALSE(table.Remove(Key(1)).has_value());
  auto placed = table.Place(Keys({2}));
  ASSERT_TRUE(placed.ok());
  EXPECT_TRUE(placed->evictions.empty());
}

// Random batches against a model: residency never exceeds capacity, slots
// are never shared, the batch is always resident, evictions are exactly the
// least recently used residents outside the batch.
TEST(SlotTableTest, RandomBatchesMatchAnLruModel) {
  constexpr int kCapacity = 5;
  SlotTable table(kCapacity);
  std::vector<int> lru;  // model: most recently used last
  uint32_t rng = 12345;
  auto next = [&rng] { return rng = rng * 1664525u + 1013904223u; };
  for (int step = 0; step < 2000; ++step) {
    absl::flat_hash_set<int> batch_set;
    const int size = 1 + next() % kCapacity;
    std::vector<int> batch;
    while (static_cast<int>(batch.size()) < size) {
      const int id = next() % 12;
      if (batch_set.insert(id).second) batch.push_back(id);
    }
    std::vector<const void*> keys;
    for (int id : batch) keys.push_back(Key(id));
    // Model's expected evictions.
    int missing = 0;
    for (int id : batch) missing += std::find(lru.begin(), lru.end(), id) == lru.end();
    const int free_slots = kCapacity - static_cast<int>(lru.size());
    std::vector<int> expected_evicted;
    for (int id : lru) {
      if (static_cast<int>(expected_evicted.size()) >= missing - free_slots) break;
      if (!batch_set.contains(id)) expected_evicted.push_back(id);
    }
    auto placed = table.Place(keys);
    ASSERT_TRUE(placed.ok());
    std::vector<int> evicted;
    for (const auto& e : placed->evictions)
      evicted.push_back(static_cast<int>(reinterpret_cast<uintptr_t>(e.key) - 0x1000));
    std::sort(evicted.begin(), evicted.end());
    std::sort(expected_evicted.begin(), expected_evicted.end());
    ASSERT_EQ(evicted, expected_evicted) << "step " << step;
    for (int id : expected_evicted) lru.erase(std::find(lru.begin(), lru.end(), id));
    for (int id : batch) {
      auto it = std::find(lru.begin(), lru.end(), id);
      if (it != lru.end()) lru.erase(it);
      lru.push_back(id);
    }
    ASSERT_EQ(table.resident(), static_cast<int>(lru.size()));
    absl::flat_hash_set<int> used;
    for (int id : lru) {
      auto entry = table.Find(Key(id));
      ASSERT_TRUE(entry.has_value());
      ASSERT_TRUE(entry->slot >= 0 && entry->slot < kCapacity);
      ASSERT_TRUE(used.insert(entry->slot).second) << "slot shared at step " << step;
    }
  }
}

}  // namespace
}  // namespace gander::engine::device
