// The RWKV "World" tokenizer: token ids <-> bytes, and a streaming
// detokenizer that turns generated ids into text without splitting a UTF-8
// character.
//
// The vocabulary file (rwkv_vocab_v20230424.txt, 65,529 tokens) has one line
// per token, `<id> <python literal> <byte length>`; see vocab_parser.h for the
// exact grammar. Ids 1..256 are the single bytes 0x00..0xFF, so any byte
// string is encodable. Id 0 is not in the file: it means end of document and
// decodes to nothing. Encoding is greedy longest match over the raw bytes (a
// byte trie); there is no normalisation and there are no merges.
//
// Example:
//   absl::StatusOr<Tokenizer> tokenizer = Tokenizer::FromFile(path);
//   if (!tokenizer.ok()) return tokenizer.status();
//   absl::StatusOr<std::vector<int>> ids = tokenizer->Encode("User: hi\n\nAssistant:");
//   absl::StatusOr<std::string> text = tokenizer->Decode(*ids);
//
//   StreamingDetokenizer stream(&*tokenizer);
//   for (int id : generated) {
//     absl::StatusOr<std::string> piece = stream.Push(id);  // never half a character
//     ...
//   }
//   std::string rest = stream.Flush();
//
// Ownership: a Tokenizer owns its vocabulary and trie (about 2 MB for the
// real vocabulary); it is copyable and movable. TokenBytes() views stay valid
// while the Tokenizer is alive and not moved from or assigned to.
// Thread safety: a Tokenizer is immutable after construction, so all const
// methods may be called concurrently. A StreamingDetokenizer is not
// thread-safe; use one per stream.
// Failures: every error is returned as absl::Status (no exceptions, no
// aborts): INVALID_ARGUMENT for a malformed vocabulary (the message names the
// line), for bytes no token covers (names the offset) and for unknown ids
// (names the id and position); NOT_FOUND for a missing vocabulary file. A
// failed call leaves the object as it was.
#ifndef GANDER_ENGINE_TOKENIZER_TOKENIZER_H_
#define GANDER_ENGINE_TOKENIZER_TOKENIZER_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace gander::engine {

class Tokenizer {
 public:
  // The end-of-document id: never in the vocabulary file, decodes to nothing.
  static constexpr int kEndOfDocument = 0;

  // Parses a whole vocabulary file's text. Each line is
  // `<id> <python literal> <byte length>`: a str literal ('...' or "...") is
  // the UTF-8 encoding of its text, a bytes literal (b'...' or b"...") is raw
  // bytes; the escapes \\ \' \" \a \b \f \n \r \t \v \ooo \xhh (and \uhhhh,
  // \Uhhhhhhhh in str literals) are supported. The byte length must equal the
  // decoded length, ids must be unique and in [1, 16777215], tokens non-empty
  // and distinct. Errors: INVALID_ARGUMENT "vocabulary line <n>: <what>".
  static absl::StatusOr<Tokenizer> FromString(absl::string_view contents);

  // Reads and parses the vocabulary file at `path`. NOT_FOUND when it does not
  // exist; other I/O errors map from errno; parse errors as FromString, with
  // the path prepended to the message.
  static absl::StatusOr<Tokenizer> FromFile(const std::string& path);

  // Greedy longest match over the bytes of `text` (any bytes: it need not be
  // valid UTF-8). Always succeeds when the vocabulary has all 256 single
  // bytes; otherwise INVALID_ARGUMENT naming the offset of the first byte
  // from which no token matches.
  absl::StatusOr<std::vector<int>> Encode(absl::string_view text) const;

  // Concatenates the tokens' bytes (the result need not be valid UTF-8). Id 0
  // decodes to nothing. INVALID_ARGUMENT naming the id and its position for an
  // id not in the vocabulary (negative, >= vocab_size(), or a gap).
  absl::StatusOr<std::string> Decode(absl::Span<const int> ids) const;

  // The bytes of one token; empty for id 0. INVALID_ARGUMENT for unknown ids.
  // The view points into this Tokenizer (see ownership above).
  absl::StatusOr<absl::string_view> TokenBytes(int id) const;

  // True when `id` decodes (id 0 or a vocabulary id).
  bool IsKnownId(int id) const;

  // Largest id + 1: the size of a logits vector that covers every token.
  int vocab_size() const { return static_cast<int>(offsets_.size()) - 1; }

  // Number of tokens in the vocabulary (id 0 not counted).
  int num_tokens() const { return num_tokens_; }

 private:
  // A trie node. A node's children are contiguous in `nodes_` (breadth-first
  // layout), sorted by the byte on the edge into them (`labels_`).
  struct Node {
    uint32_t first_child = 0;   // index in nodes_ of the first child
    uint16_t num_children = 0;  // 0..256
    int32_t token = -1;         // id of the token ending here, or -1
  };

  Tokenizer() = default;

  // Index of the child of `node` reached by `byte`, or 0 (the root, never a
  // child) when there is none.
  uint32_t FindChild(uint32_t node, uint8_t byte) const;

  // All token bytes, concatenated in id order; token `id` is
  // bytes_[offsets_[id], offsets_[id + 1]). Ids not in the vocabulary (and 0)
  // have empty ranges. offsets_.size() == vocab_size() + 1.
  std::string bytes_;
  std::vector<uint32_t> offsets_ = {0, 0};
  int num_tokens_ = 0;

  std::vector<Node> nodes_;                    // nodes_[0] is the root
  std::vector<uint8_t> labels_;                // labels_[i]: the byte on the edge into node i
  std::array<uint32_t, 256> root_children_{};  // root's child per byte, 0 if none
};

// `bytes` with every byte that is not part of a valid UTF-8 sequence
// replaced by U+FFFD, so it can go where UTF-8 is required (a protobuf
// string). Valid input comes back unchanged. Token bytes can be any bytes,
// and a sequence a model generates need not be valid UTF-8.
std::string ReplaceInvalidUtf8(absl::string_view bytes);

// Turns a stream of token ids into text pieces that never split a UTF-8
// character. A token may end inside a character; its bytes are held back
// until the character completes. Bytes that can never become valid UTF-8 (an
// invalid lead byte, a broken continuation) are emitted as they are at once,
// so the stream never stalls. The concatenation of every Push() result and
// the final Flush() equals Tokenizer::Decode() of the same ids. At most 3
// bytes are ever held back.
//
// Not thread-safe: one per stream. The tokenizer is not owned and must
// outlive this object.
class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Tokenizer* tokenizer) : tokenizer_(tokenizer) {}

  // Appends token `id` and returns the text ready to show now (maybe empty).
  // Id 0 adds nothing. INVALID_ARGUMENT for an unknown id, with the
  // held-back bytes unchanged.
  absl::StatusOr<std::string> Push(int id);

  // Returns whatever is held back, as raw bytes (an incomplete character), and
  // clears it. Call at the end of a stream.
  std::string Flush();

  // The held-back bytes, so a stream's detokenizer state can be saved and
  // restored (set_pending on a fresh detokenizer resumes exactly).
  const std::string& pending() const { return pending_; }
  void set_pending(std::string bytes) { pending_ = std::move(bytes); }

 private:
  const Tokenizer* tokenizer_;
  std::string pending_;
};

}  // namespace gander::engine

#endif  // GANDER_ENGINE_TOKENIZER_TOKENIZER_H_
