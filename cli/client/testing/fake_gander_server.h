// An in-process fake of a Gander worker's public services (Sessions,
// Streams, Models) on 127.0.0.1 with a free port, for testing the clients
// (`gander chat`, `gander streams`, the load generator) without a model.
//
// What it does, simply and deterministically:
//   - Sessions.Stream follows sessions.proto's event order. Text input
//     counts one token per byte; token ids must be < vocab_size. A generate
//     emits max_tokens tokens (default_max_tokens when 0) whose text is
//     "<p> " for the token at position p, then generation_finished with
//     trailing_text "." (empty when cancelled); checkpoint policies
//     AFTER_GENERATION (and unspecified), EVERY_N_TOKENS (after each
//     generate only), ON_CLOSE and checkpoint_now write a checkpoint event.
//   - Streams keeps streams in memory, pages ListStreams by id, exports
//     and imports bytes in 1 MiB chunks.
//   - Models lists one model.
// Knobs in FakeGanderOptions make it misbehave on purpose.
//
// Example:
//   FakeGanderServer server;            // listening once constructed
//   ClientOptions options;
//   options.server = server.address();  // "127.0.0.1:PORT"
//   ... run a client ...
//   EXPECT_EQ(server.calls()[0].stream_id_header, "chat-1");
//
// Thread safety: every method may be called from any thread while calls
// are served. Failure: construction aborts the test process if no port can
// be bound (test-only code).
#ifndef GANDER_CLI_CLIENT_TESTING_FAKE_GANDER_SERVER_H_
#define GANDER_CLI_CLIENT_TESTING_FAKE_GANDER_SERVER_H_

#include <grpcpp/server.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gander/v1/common.pb.h"
#include "gander/v1/sessions.pb.h"

namespace gander::cli::client::testing {

struct FakeGanderOptions {
  // Models.ListModels: the only model's name and vocabulary size.
  std::string model_name = "fake-rwkv7";
  uint32_t vocab_size = 1000;

  // Sessions: a status every open ends with instead of opening; OK: open.
  grpc::Status open_status;
  // Sessions: a status the call ends with at its first generate; OK: none.
  grpc::Status generate_status;
  // Sessions: generate ignores max_tokens and runs until cancelled (or a
  // safety cap of 100000 tokens).
  bool generate_until_cancel = false;
  // Sessions: the text of the third token of every generation is "\xff"
  // (not UTF-8), which a client cannot parse.
  bool invalid_utf8_token = false;
  // Sessions: tokens per generate when Generate.max_tokens is 0.
  uint32_t default_max_tokens = 16;

  // Streams.ListStreams: page size when the request asks for 0.
  uint32_t default_page_size = 100;
  // Streams.ExportStream: send this many bytes fewer than announced.
  uint64_t export_short_by = 0;
  // Streams.ExportStream: flip one bit of the first chunk.
  bool export_corrupt = false;
};

// What the fake saw of one call.
struct FakeCall {
  std::string method;            // "Sessions.Stream", "Streams.ListStreams", ...
  std::string authorization;     // the authorization header, "" when absent
  std::string stream_id_header;  // the x-gander-stream-id header, "" when absent
};

class FakeGanderServer {
 public:
  explicit FakeGanderServer(FakeGanderOptions options = {});
  FakeGanderServer(const FakeGanderServer&) = delete;
  FakeGanderServer& operator=(const FakeGanderServer&) = delete;
  ~FakeGanderServer();

  // "127.0.0.1:PORT".
  std::string address() const;

  // Adds (or replaces) a stream whose versions 1..info.version all hold
  // `bytes`; info.version 0 gives a stream without checkpoints.
  void AddStream(const v1::StreamInfo& info, const std::string& bytes);

  // A copy of a stream's info; false when there is none.
  bool GetStream(const std::string& id, v1::StreamInfo* info) const;
  // The bytes a stream's head holds ("" without checkpoints or stream).
  std::string StreamBytes(const std::string& id) const;

  // Every call so far, in arrival order.
  std::vector<FakeCall> calls() const;
  // Every Sessions.Stream request so far (all calls), in arrival order.
  std::vector<v1::StreamRequest> session_requests() const;
  // The sizes of the chunks of every ImportStream call, in order.
  std::vector<size_t> import_chunk_sizes() const;
  // ListStreams page tokens received, in order.
  std::vector<std::string> page_tokens() const;

  // Options may change between calls (each call reads them as it starts).
  void set_options(const FakeGanderOptions& options);

  // Internal: the shared state the services use.
  struct State;

 private:
  std::shared_ptr<State> state_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace gander::cli::client::testing

#endif  // GANDER_CLI_CLIENT_TESTING_FAKE_GANDER_SERVER_H_
