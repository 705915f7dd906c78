// Checks that the generated C++ for the wire contract links and behaves:
// messages round-trip through their binary encoding and the service's
// method names are what clients will call.
#include <string>

#include "gander/v1/models.grpc.pb.h"
#include "gander/v1/models.pb.h"
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

}  // namespace
}  // namespace gander::v1
