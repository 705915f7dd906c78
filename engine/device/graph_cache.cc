#include "engine/device/graph_cache.h"

#include <algorithm>

namespace gander::engine::device {

GraphCache::GraphCache(Options options) : options_(options) {
  options_.capacity = std::max(options_.capacity, 0);
  options_.capture_after = std::max(options_.capture_after, 1);
}

GraphCache::Action GraphCache::Plan(int batch) {
  ++clock_;
  if (options_.capacity == 0 || batch < 1 || batch > options_.max_batch ||
      failed_.contains(batch)) {
    return Action::kEager;
  }
  if (auto it = graphs_.find(batch); it != graphs_.end()) {
    it->second = clock_;
    return Action::kReplay;
  }
  return ++uses_[batch] >= options_.capture_after ? Action::kCapture : Action::kEager;
}

void GraphCache::Captured(int batch) {
  uses_.erase(batch);
  graphs_[batch] = clock_;
  while (static_cast<int>(graphs_.size()) > options_.capacity) {
    auto victim = graphs_.end();
    for (auto it = graphs_.begin(); it != graphs_.end(); ++it) {
      if (it->first == batch) continue;
      if (victim == graphs_.end() || it->second < victim->second ||
          (it->second == victim->second && it->first < victim->first)) {
        victim = it;
      }
    }
    evicted_.push_back(victim->first);
    graphs_.erase(victim);
  }
}

void GraphCache::CaptureFailed(int batch) {
  uses_.erase(batch);
  failed_.insert(batch);
}

void GraphCache::InvalidateAll() {
  for (const auto& [batch, last_use] : graphs_) evicted_.push_back(batch);
  graphs_.clear();
  uses_.clear();
}

std::vector<int> GraphCache::TakeEvicted() {
  std::vector<int> out;
  out.swap(evicted_);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace gander::engine::device
