#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/vocab_parser.h"

namespace gander::engine {

using tokenizer_internal::ParseVocabulary;
using tokenizer_internal::VocabEntry;

absl::StatusOr<Tokenizer> Tokenizer::FromString(absl::string_view contents) {
  absl::StatusOr<std::vector<VocabEntry>> parsed = ParseVocabulary(contents);
  if (!parsed.ok()) return parsed.status();
  const std::vector<VocabEntry>& entries = *parsed;
  if (entries.empty()) {
    return absl::InvalidArgumentError("vocabulary has no token lines");
  }

  // Token bytes, concatenated in id order.
  int max_id = 0;
  size_t total_bytes = 0;
  for (const VocabEntry& entry : entries) {
    max_id = std::max(max_id, entry.id);
    total_bytes += entry.bytes.size();
  }
  if (total_bytes > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("vocabulary tokens total ", total_bytes,
                                                   " bytes; at most 4 GiB is supported"));
  }
  std::vector<const VocabEntry*> by_id(static_cast<size_t>(max_id) + 1, nullptr);
  for (const VocabEntry& entry : entries) by_id[entry.id] = &entry;

  Tokenizer tokenizer;
  tokenizer.num_tokens_ = static_cast<int>(entries.size());
  tokenizer.bytes_.reserve(total_bytes);
  tokenizer.offsets_.assign(static_cast<size_t>(max_id) + 2, 0);
  for (int id = 0; id <= max_id; ++id) {
    tokenizer.offsets_[id] = static_cast<uint32_t>(tokenizer.bytes_.size());
    if (by_id[id] != nullptr) tokenizer.bytes_ += by_id[id]->bytes;
  }
  tokenizer.offsets_[max_id + 1] = static_cast<uint32_t>(tokenizer.bytes_.size());

  // Entries sorted by their bytes (unsigned byte order), so that each trie
  // node's tokens form one contiguous range and equal tokens sit side by side.
  std::vector<uint32_t> order(entries.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&entries](uint32_t a, uint32_t b) { return entries[a].bytes < entries[b].bytes; });
  for (size_t i = 1; i < order.size(); ++i) {
    const VocabEntry& previous = entries[order[i - 1]];
    const VocabEntry& current = entries[order[i]];
    if (previous.bytes == current.bytes) {
      const VocabEntry& later = previous.line > current.line ? previous : current;
      const VocabEntry& earlier = previous.line > current.line ? current : previous;
      return absl::InvalidArgumentError(absl::StrCat("vocabulary line ", later.line, ": id ",
                                                     later.id, " has the same bytes as id ",
                                                     earlier.id, " (line ", earlier.line, ")"));
    }
  }

  // Breadth-first construction: a node's children are appended together, so
  // they are contiguous. Work item `q` describes node `q`: the range of
  // `order` whose tokens pass through it, and its depth (bytes matched).
  struct WorkItem {
    uint32_t begin;
    uint32_t end;
    uint32_t depth;
  };
  std::vector<WorkItem> work = {{0, static_cast<uint32_t>(order.size()), 0}};
  tokenizer.nodes_.emplace_back();
  tokenizer.labels_.push_back(0);
  for (size_t q = 0; q < work.size(); ++q) {
    const WorkItem item = work[q];  // a copy: `work` grows below
    uint32_t begin = item.begin;
    if (begin < item.end && entries[order[begin]].bytes.size() == item.depth) {
      tokenizer.nodes_[q].token = entries[order[begin]].id;
      ++begin;
    }
    const uint32_t first_child = static_cast<uint32_t>(tokenizer.nodes_.size());
    uint16_t num_children = 0;
    while (begin < item.end) {
      const char label = entries[order[begin]].bytes[item.depth];
      uint32_t end = begin + 1;
      while (end < item.end && entries[order[end]].bytes[item.depth] == label) ++end;
      tokenizer.nodes_.emplace_back();
      tokenizer.labels_.push_back(static_cast<uint8_t>(label));
      work.push_back({begin, end, item.depth + 1});
      ++num_children;
      begin = end;
    }
    tokenizer.nodes_[q].first_child = first_child;
    tokenizer.nodes_[q].num_children = num_children;
  }
  tokenizer.nodes_.shrink_to_fit();
  tokenizer.labels_.shrink_to_fit();
  const Node& root = tokenizer.nodes_[0];
  for (uint32_t i = 0; i < root.num_children; ++i) {
    const uint32_t child = root.first_child + i;
    tokenizer.root_children_[tokenizer.labels_[child]] = child;
  }
  return tokenizer;
}

absl::StatusOr<Tokenizer> Tokenizer::FromFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    if (error == ENOENT) {
      return absl::NotFoundError(absl::StrCat("vocabulary file not found: ", path));
    }
    return absl::ErrnoToStatus(error, absl::StrCat("cannot open vocabulary file ", path));
  }
  std::string contents;
  char buffer[1 << 16];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof(buffer), file)) > 0) contents.append(buffer, read);
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  if (failed) {
    return absl::ErrnoToStatus(error, absl::StrCat("cannot read vocabulary file ", path));
  }
  absl::StatusOr<Tokenizer> tokenizer = FromString(contents);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat(path, ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

uint32_t Tokenizer::FindChild(uint32_t node, uint8_t byte) const {
  const Node& n = nodes_[node];
  const uint8_t* begin = labels_.data() + n.first_child;
  const uint8_t* end = begin + n.num_children;
  if (n.num_children <= 8) {
    for (const uint8_t* p = begin; p != end; ++p) {
      if (*p == byte) return n.first_child + static_cast<uint32_t>(p - begin);
    }
    return 0;
  }
  const uint8_t* p = std::lower_bound(begin, end, byte);
  if (p != end && *p == byte) return n.first_child + static_cast<uint32_t>(p - begin);
  return 0;
}

absl::StatusOr<std::vector<int>> Tokenizer::Encode(absl::string_view text) const {
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + 1);
  const size_t size = text.size();
  size_t offset = 0;
  while (offset < size) {
    // Walk down from the root, remembering the longest token seen.
    int best_token = -1;
    size_t best_length = 0;
    size_t position = offset;
    uint32_t node = root_children_[static_cast<uint8_t>(text[position])];
    while (node != 0) {
      ++position;
      const int32_t token = nodes_[node].token;
      if (token >= 0) {
        best_token = token;
        best_length = position - offset;
      }
      if (position == size) break;
      node = FindChild(node, static_cast<uint8_t>(text[position]));
    }
    if (best_token < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("no token matches the text at byte offset ", offset, " (byte 0x",
                       absl::Hex(static_cast<uint8_t>(text[offset]), absl::kZeroPad2), ")"));
    }
    ids.push_back(best_token);
    offset += best_length;
  }
  return ids;
}

bool Tokenizer::IsKnownId(int id) const {
  if (id < 0 || id >= vocab_size()) return false;
  return id == kEndOfDocument || offsets_[id + 1] > offsets_[id];
}

absl::StatusOr<std::string> Tokenizer::Decode(absl::Span<const int> ids) const {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int id = ids[i];
    if (!IsKnownId(id)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown token id ", id, " at position ", i,
                                                     " (vocab_size ", vocab_size(), ")"));
    }
    text.append(bytes_, offsets_[id], offsets_[id + 1] - offsets_[id]);
  }
  return text;
}

absl::StatusOr<absl::string_view> Tokenizer::TokenBytes(int id) const {
  if (!IsKnownId(id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown token id ", id, " (vocab_size ", vocab_size(), ")"));
  }
  return absl::string_view(bytes_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
}

}  // namespace gander::engine
