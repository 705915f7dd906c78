// ModelsService: the gRPC service gander.v1.Models
// (proto/gander/v1/models.proto): which RWKV-7 model this worker serves,
// with its fingerprint, shape, weight type, state size and vocabulary, so
// clients can pick it and check that a saved state belongs to it.
//
// A worker serves one model, so ListModels answers one ModelInfo. The call
// resolves the caller first (TenantResolver, service/admin/caller.h) and
// answers its error unchanged (UNAUTHENTICATED without a valid token when
// authentication is on); model information is the same for every tenant.
//
// Example:
//   ModelsService models(*model, "rwkv7-0.1b", "/models/rwkv_vocab_v20230424.txt", tenant_of);
//   builder.RegisterService(&models);
//
// Ownership: everything is copied from the model in the constructor; the
// model need not outlive the service. The service must outlive the server
// it is registered with.
// Thread safety: immutable after construction; calls run concurrently.
// Failure behaviour: only the resolver's errors; nothing aborts.
#ifndef GANDER_SERVICE_ADMIN_MODELS_SERVICE_H_
#define GANDER_SERVICE_ADMIN_MODELS_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/string_view.h"
#include "engine/backend.h"
#include "gander/v1/models.grpc.pb.h"
#include "service/admin/caller.h"

namespace gander::service {

// The vocabulary's name from a vocabulary file's path or a bare name: the
// last path component without a ".txt" or ".json" extension
// ("/m/rwkv_vocab_v20230424.txt" -> "rwkv_vocab_v20230424"); "" stays "".
std::string VocabularyName(absl::string_view path_or_name);

// ModelInfo of `model` served under `name`: fingerprint, L, C, N, V,
// weight_dtype ("bf16" or "fp32", as the matrices are held), state_bytes
// (L * (2C + H * N * N) * 4) and VocabularyName(vocabulary).
gander::v1::ModelInfo DescribeModel(const engine::Backend& model, const std::string& name,
                                    absl::string_view vocabulary);

class ModelsService final : public gander::v1::Models::CallbackService {
 public:
  // `vocabulary`: the tokenizer vocabulary's path or name, "" when the model
  // is served token ids only.
  ModelsService(const engine::Backend& model, const std::string& model_name,
                absl::string_view vocabulary, TenantResolver tenant_of);

  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const gander::v1::ListModelsRequest* request,
                                       gander::v1::ListModelsResponse* response) override;

 private:
  const gander::v1::ModelInfo info_;
  const TenantResolver tenant_of_;
};

}  // namespace gander::service

#endif  // GANDER_SERVICE_ADMIN_MODELS_SERVICE_H_
