// Checks that the generated C++ for the wire contract links and behaves:
// messages round-trip through their binary encoding, oneofs and optional
// fields keep their cases, and every service has the methods (and streaming
// shapes) clients will call.
#include <string>

#include "gander/store/v1/state_store.grpc.pb.h"
#include "gander/store/v1/state_store.pb.h"
#include "gander/v1/common.pb.h"
#include "gander/v1/models.grpc.pb.h"
#include "gander/v1/models.pb.h"
#include "gander/v1/sessions.grpc.pb.h"
#include "gander/v1/sessions.pb.h"
#include "gander/v1/streams.grpc.pb.h"
#include "gander/v1/streams.pb.h"
#include "gtest/gtest.h"

namespace gander::v1 {
namespace {

TEST(GanderV1Proto, ModelInfoRoundTrips) {
  ListModelsResponse response;
  ModelInfo* info = response.add_models();
  info->set_name("rwkv7-0.1b");
  info->set_fingerprint("00ff");
  info->set_layers(12);
  info->set_embedding_size(768);
  info->set_head_size(64);
  info->set_vocab_size(65536);
  info->set_weight_dtype("bf16");
  info->set_state_bytes(2433024);

  std::string wire;
  ASSERT_TRUE(response.SerializeToString(&wire));
  ListModelsResponse decoded;
  ASSERT_TRUE(decoded.ParseFromString(wire));
  ASSERT_EQ(decoded.models_size(), 1);
  EXPECT_EQ(decoded.models(0).name(), "rwkv7-0.1b");
  EXPECT_EQ(decoded.models(0).state_bytes(), 2433024u);
  EXPECT_EQ(decoded.models(0).vocab_size(), 65536u);
}

TEST(GanderV1Proto, RejectsGarbage) {
  ListModelsResponse decoded;
  // A field header announcing a length-delimited field longer than the input.
  const std::string truncated("\x0a\x10\x0a", 3);
  EXPECT_FALSE(decoded.ParseFromString(truncated));
}

TEST(GanderV1Proto, ServiceDescriptorNamesMethods) {
  const auto* service = ModelInfo::descriptor()->file()->FindServiceByName("Models");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(service->full_name(), "gander.v1.Models");
  EXPECT_NE(service->FindMethodByName("ListModels"), nullptr);
}

TEST(GanderV1Proto, SessionRequestOneofRoundTrips) {
  StreamRequest open;
  open.mutable_open()->mutable_fork()->set_source_stream_id("s1");
  open.mutable_open()->mutable_fork()->set_version(3);
  open.mutable_open()->set_seed(1234);
  open.mutable_open()->set_checkpoint_policy(CHECKPOINT_POLICY_EVERY_N_TOKENS);
  open.mutable_open()->set_every_n_tokens(64);
  open.mutable_open()->set_codec(STATE_CODEC_LOSSLESS);

  std::string wire;
  ASSERT_TRUE(open.SerializeToString(&wire));
  StreamRequest decoded;
  ASSERT_TRUE(decoded.ParseFromString(wire));
  ASSERT_EQ(decoded.request_case(), StreamRequest::kOpen);
  ASSERT_EQ(decoded.open().target_case(), Open::kFork);
  EXPECT_EQ(decoded.open().fork().source_stream_id(), "s1");
  EXPECT_EQ(decoded.open().fork().version(), 3u);
  EXPECT_EQ(decoded.open().seed(), 1234u);
  EXPECT_EQ(decoded.open().checkpoint_policy(), CHECKPOINT_POLICY_EVERY_N_TOKENS);
  EXPECT_EQ(decoded.open().codec(), STATE_CODEC_LOSSLESS);

  // Setting another member of the oneof clears the first.
  decoded.mutable_append_input()->set_text("Hello");
  EXPECT_EQ(decoded.request_case(), StreamRequest::kAppendInput);
  EXPECT_FALSE(decoded.has_open());
  decoded.mutable_append_input()->mutable_token_ids()->add_ids(42);
  EXPECT_EQ(decoded.append_input().input_case(), AppendInput::kTokenIds);
  EXPECT_TRUE(decoded.append_input().text().empty());
}

TEST(GanderV1Proto, SamplingSettingsDistinguishUnsetFromZero) {
  Generate generate;
  generate.set_max_tokens(16);
  generate.mutable_sampling()->set_temperature(0.0f);  // greedy, not "unset"
  generate.add_stop_strings("\n\nUser:");
  generate.set_top_logprobs(5);

  std::string wire;
  ASSERT_TRUE(generate.SerializeToString(&wire));
  Generate decoded;
  ASSERT_TRUE(decoded.ParseFromString(wire));
  EXPECT_TRUE(decoded.sampling().has_temperature());
  EXPECT_EQ(decoded.sampling().temperature(), 0.0f);
  EXPECT_FALSE(decoded.sampling().has_top_p());
  EXPECT_FALSE(decoded.sampling().has_penalty_decay());
  ASSERT_EQ(decoded.stop_strings_size(), 1);
  EXPECT_EQ(decoded.stop_strings(0), "\n\nUser:");
  EXPECT_EQ(decoded.top_logprobs(), 5u);
}

TEST(GanderV1Proto, SessionEventsRoundTrip) {
  StreamResponse token;
  token.mutable_token()->set_token_id(510);
  token.mutable_token()->set_position(7);
  token.mutable_token()->set_text("lo");
  token.mutable_token()->set_logprob(-0.25f);
  TokenLogprob* alt = token.mutable_token()->add_top_logprobs();
  alt->set_token_id(511);
  alt->set_logprob(-1.5f);

  std::string wire;
  ASSERT_TRUE(token.SerializeToString(&wire));
  StreamResponse decoded;
  ASSERT_TRUE(decoded.ParseFromString(wire));
  ASSERT_EQ(decoded.event_case(), StreamResponse::kToken);
  EXPECT_EQ(decoded.token().token_id(), 510u);
  EXPECT_EQ(decoded.token().text(), "lo");
  ASSERT_TRUE(decoded.token().has_logprob());
  EXPECT_EQ(decoded.token().logprob(), -0.25f);
  ASSERT_EQ(decoded.token().top_logprobs_size(), 1);
  EXPECT_EQ(decoded.token().top_logprobs(0).token_id(), 511u);

  StreamResponse finished;
  finished.mutable_generation_finished()->set_reason(FINISH_REASON_STOP_STRING);
  ASSERT_TRUE(finished.SerializeToString(&wire));
  ASSERT_TRUE(decoded.ParseFromString(wire));
  ASSERT_EQ(decoded.event_case(), StreamResponse::kGenerationFinished);
  EXPECT_EQ(decoded.generation_finished().reason(), FINISH_REASON_STOP_STRING);
}

TEST(GanderV1Proto, ServicesNameTheirMethods) {
  const auto* sessions = StreamRequest::descriptor()->file()->FindServiceByName("Sessions");
  ASSERT_NE(sessions, nullptr);
  const auto* stream = sessions->FindMethodByName("Stream");
  ASSERT_NE(stream, nullptr);
  EXPECT_TRUE(stream->client_streaming());
  EXPECT_TRUE(stream->server_streaming());
  EXPECT_EQ(stream->input_type(), StreamRequest::descriptor());
  EXPECT_EQ(stream->output_type(), StreamResponse::descriptor());

  const auto* streams = CreateStreamRequest::descriptor()->file()->FindServiceByName("Streams");
  ASSERT_NE(streams, nullptr);
  for (const char* name : {"CreateStream", "GetStream", "ListStreams", "ForkStream", "DeleteStream",
                           "ExportStream", "ImportStream"}) {
    EXPECT_NE(streams->FindMethodByName(name), nullptr) << name;
  }
  EXPECT_TRUE(streams->FindMethodByName("ExportStream")->server_streaming());
  EXPECT_FALSE(streams->FindMethodByName("ExportStream")->client_streaming());
  EXPECT_TRUE(streams->FindMethodByName("ImportStream")->client_streaming());
  EXPECT_FALSE(streams->FindMethodByName("ImportStream")->server_streaming());
  EXPECT_EQ(std::string(Sessions::service_full_name()), "gander.v1.Sessions");
  EXPECT_EQ(std::string(Streams::service_full_name()), "gander.v1.Streams");
}

TEST(GanderV1Proto, StateStoreMirrorsTheStorageApi) {
  const auto* store =
      store::v1::CommitRequest::descriptor()->file()->FindServiceByName("StateStore");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->full_name(), "gander.store.v1.StateStore");
  for (const char* name : {"CreateStream", "GetStream", "CreateStreamWithCheckpoint", "Commit",
                           "GetCheckpoint", "ListVersions", "Fork", "DeleteStream", "ListStreams",
                           "AcquireLease", "RenewLease", "ReleaseLease", "DeleteIdleStreams"}) {
    EXPECT_NE(store->FindMethodByName(name), nullptr) << name;
  }
  // Checkpoints travel in chunks: uploads are client-streaming, the download
  // server-streaming.
  EXPECT_TRUE(store->FindMethodByName("Commit")->client_streaming());
  EXPECT_TRUE(store->FindMethodByName("CreateStreamWithCheckpoint")->client_streaming());
  EXPECT_TRUE(store->FindMethodByName("GetCheckpoint")->server_streaming());
  EXPECT_FALSE(store->FindMethodByName("GetStream")->client_streaming());
  EXPECT_FALSE(store->FindMethodByName("GetStream")->server_streaming());
}

TEST(GanderV1Proto, CommitUploadIsHeaderThenChunks) {
  store::v1::CommitRequest header;
  header.mutable_header()->set_stream_id("s1");
  header.mutable_header()->set_expected_version(4);
  header.mutable_header()->set_lease_epoch(99);
  header.mutable_header()->set_size_bytes(3);
  header.mutable_header()->set_checkpoint_id(std::string(32, 'a'));
  store::v1::CommitRequest chunk;
  chunk.set_chunk(std::string("\x00\x01\xff", 3));  // arbitrary bytes, NUL included

  std::string wire;
  store::v1::CommitRequest decoded;
  ASSERT_TRUE(header.SerializeToString(&wire));
  ASSERT_TRUE(decoded.ParseFromString(wire));
  ASSERT_EQ(decoded.part_case(), store::v1::CommitRequest::kHeader);
  EXPECT_EQ(decoded.header().expected_version(), 4u);
  EXPECT_EQ(decoded.header().lease_epoch(), 99u);

  ASSERT_TRUE(chunk.SerializeToString(&wire));
  ASSERT_TRUE(decoded.ParseFromString(wire));
  ASSERT_EQ(decoded.part_case(), store::v1::CommitRequest::kChunk);
  EXPECT_EQ(decoded.chunk(), std::string("\x00\x01\xff", 3));

  store::v1::AcquireLeaseRequest lease;
  lease.mutable_ttl()->set_seconds(30);
  ASSERT_TRUE(lease.SerializeToString(&wire));
  store::v1::AcquireLeaseRequest lease_decoded;
  ASSERT_TRUE(lease_decoded.ParseFromString(wire));
  EXPECT_EQ(lease_decoded.ttl().seconds(), 30);
}

}  // namespace
}  // namespace gander::v1
