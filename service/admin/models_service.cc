#include "service/admin/models_service.h"

#include <utility>

#include "absl/strings/match.h"
#include "common/grpc_status.h"

namespace gander::service {

namespace pb = ::gander::v1;

std::string VocabularyName(absl::string_view path_or_name) {
  const size_t slash = path_or_name.find_last_of('/');
  absl::string_view name =
      slash == absl::string_view::npos ? path_or_name : path_or_name.substr(slash + 1);
  for (absl::string_view extension : {".txt", ".json"}) {
    if (name.size() > extension.size() && absl::EndsWith(name, extension)) {
      name.remove_suffix(extension.size());
      break;
    }
  }
  std::string result(name);
  return result;
}

pb::ModelInfo DescribeModel(const engine::Backend& model, const std::string& name,
                            absl::string_view vocabulary) {
  const engine::ModelConfig& config = model.config();
  pb::ModelInfo info;
  info.set_name(name);
  info.set_fingerprint(model.fingerprint());
  info.set_layers(config.layers);
  info.set_embedding_size(config.embd);
  info.set_head_size(config.head_size);
  info.set_vocab_size(config.vocab);
  info.set_weight_dtype(model.weight_dtype());
  info.set_state_bytes(config.StateFloats() * sizeof(float));
  info.set_vocabulary(VocabularyName(vocabulary));
  return info;
}

ModelsService::ModelsService(const engine::Backend& model, const std::string& model_name,
                             absl::string_view vocabulary, TenantResolver tenant_of)
    : info_(DescribeModel(model, model_name, vocabulary)), tenant_of_(std::move(tenant_of)) {}

grpc::ServerUnaryReactor* ModelsService::ListModels(grpc::CallbackServerContext* context,
                                                    const pb::ListModelsRequest*,
                                                    pb::ListModelsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<std::string> caller = ResolveCaller(tenant_of_, *context);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  *response->add_models() = info_;
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace gander::service
