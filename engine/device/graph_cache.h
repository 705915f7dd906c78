// Which decode batch sizes have a captured CUDA graph: the bookkeeping of a
// graph cache, kept apart from the CUDA calls so it is tested on any
// machine. The executor owns the graphs themselves (keyed by batch size)
// and does what Plan says.
//
// A decode step of B streams always launches the same kernels with the same
// shapes; only the contents of fixed device buffers (tokens, slot indices)
// change. So one graph per B, captured once B has been seen
// `capture_after` times (one-off sizes stay eager), replayed afterwards. At
// most `capacity` graphs are kept; the least recently replayed goes first.
// A size whose capture failed is never tried again.
//
// Thread-compatible: one thread at a time.
//
// Example:
//   switch (cache.Plan(batch)) {
//     case GraphCache::Action::kReplay:  Launch(graphs[batch]); break;
//     case GraphCache::Action::kCapture: ok ? cache.Captured(batch) : cache.CaptureFailed(batch);
//     ...
//   }
//   for (int b : cache.TakeEvicted()) Destroy(graphs[b]);
#ifndef GANDER_ENGINE_DEVICE_GRAPH_CACHE_H_
#define GANDER_ENGINE_DEVICE_GRAPH_CACHE_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace gander::engine::device {

class GraphCache {
 public:
  struct Options {
    int capacity = 32;      // graphs kept at once; 0 disables graphs
    int capture_after = 2;  // uses of a batch size before it is captured (>= 1)
    int max_batch = 1024;   // larger decode batches always run eagerly
  };
  explicit GraphCache(Options options);

  enum class Action {
    kEager,    // launch the kernels one by one
    kCapture,  // capture this step into a graph, then launch it; report back
    kReplay,   // launch the graph captured for this batch size
  };
  // What to do for a decode step of `batch` streams; counts the use.
  Action Plan(int batch);
  // The capture Plan asked for succeeded: the graph for `batch` now exists.
  // May evict the least recently used other graph (see TakeEvicted).
  void Captured(int batch);
  // The capture failed: `batch` runs eagerly from now on.
  void CaptureFailed(int batch);
  // Drops every graph (for example after the buffers they use moved).
  void InvalidateAll();
  // Batch sizes whose graphs the executor must now destroy.
  std::vector<int> TakeEvicted();

  bool has_graph(int batch) const { return graphs_.contains(batch); }
  int graphs() const { return static_cast<int>(graphs_.size()); }

 private:
  Options options_;
  uint64_t clock_ = 0;
  absl::flat_hash_map<int, uint64_t> graphs_;  // batch -> last use
  absl::flat_hash_map<int, int> uses_;         // batch -> uses while not captured
  absl::flat_hash_set<int> failed_;
  std::vector<int> evicted_;
};

}  // namespace gander::engine::device

#endif  // GANDER_ENGINE_DEVICE_GRAPH_CACHE_H_
