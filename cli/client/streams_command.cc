// gander streams ls|show|fork|rm|export|import, and gander models: the
// Streams and Models admin services from the command line.
#include <grpcpp/channel.h>

#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/client/command_line.h"
#include "cli/client/connection.h"
#include "cli/client/session_flags.h"
#include "cli/client/stream_ref.h"
#include "cli/client/streams_client.h"
#include "cli/commands.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "gander/v1/models.grpc.pb.h"
#include "gander/v1/streams.grpc.pb.h"

namespace gander::cli {
namespace {

using client::ClientOptions;
using client::CommandLine;

// Deadlines of the admin calls: one round trip, or a whole state's bytes.
constexpr char kAdminTimeout[] = "30s";
constexpr char kTransferTimeout[] = "10m";

struct StreamsStub {
  ClientOptions options;
  std::unique_ptr<v1::Streams::Stub> stub;
};

absl::StatusOr<StreamsStub> ConnectStreams(const FlagSet& flags) {
  StreamsStub result;
  GANDER_ASSIGN_OR_RETURN(result.options, client::ClientOptionsFromFlags(flags));
  GANDER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                          client::MakeChannel(result.options));
  result.stub = v1::Streams::NewStub(channel);
  return result;
}

void PrintLine(const std::string& text) { std::printf("%s\n", text.c_str()); }

std::string Describe(const v1::StreamInfo& stream) {
  return absl::StrCat(stream.id(), " (version ", stream.version(), ", ", stream.token_count(),
                      " tokens)");
}

absl::Status List(const FlagSet& flags, const CommandLine&) {
  GANDER_ASSIGN_OR_RETURN(uint64_t page_size, client::GetUnsignedFlag(flags, "page-size", 0, 1000));
  GANDER_ASSIGN_OR_RETURN(StreamsStub streams, ConnectStreams(flags));
  GANDER_ASSIGN_OR_RETURN(
      std::vector<v1::StreamInfo> all,
      client::ListAllStreams(streams.stub.get(), streams.options, flags.Get("tenant"),
                             static_cast<uint32_t>(page_size)));
  std::fputs(client::FormatStreamTable(all).c_str(), stdout);
  return absl::OkStatus();
}

absl::Status Show(const FlagSet& flags, const CommandLine& line) {
  const std::string& id = line.positionals[0];
  GANDER_RETURN_IF_ERROR(client::ValidateStreamId(id));
  GANDER_ASSIGN_OR_RETURN(StreamsStub streams, ConnectStreams(flags));
  grpc::ClientContext context;
  client::PrepareContext(streams.options, id, &context);
  v1::GetStreamRequest request;
  request.set_stream_id(id);
  v1::GetStreamResponse response;
  GANDER_RETURN_IF_ERROR(FromGrpcStatus(streams.stub->GetStream(&context, request, &response)));
  std::fputs(client::FormatStreamDetails(response).c_str(), stdout);
  return absl::OkStatus();
}

absl::Status Fork(const FlagSet& flags, const CommandLine& line) {
  GANDER_ASSIGN_OR_RETURN(client::StreamRef source, client::ParseStreamRef(line.positionals[0]));
  const std::string new_id = flags.Get("id");
  if (!new_id.empty()) GANDER_RETURN_IF_ERROR(client::ValidateStreamId(new_id));
  GANDER_ASSIGN_OR_RETURN(StreamsStub streams, ConnectStreams(flags));
  grpc::ClientContext context;
  client::PrepareContext(streams.options, source.id, &context);
  v1::ForkStreamRequest request;
  request.set_source_stream_id(source.id);
  request.set_version(source.version);
  request.set_stream_id(new_id);
  v1::ForkStreamResponse response;
  GANDER_RETURN_IF_ERROR(FromGrpcStatus(streams.stub->ForkStream(&context, request, &response)));
  const v1::StreamInfo& stream = response.stream();
  PrintLine(absl::StrCat("forked ", stream.parent_id(), "@", stream.parent_version(), " into ",
                         Describe(stream)));
  return absl::OkStatus();
}

absl::Status Remove(const FlagSet& flags, const CommandLine& line) {
  const std::string& id = line.positionals[0];
  GANDER_RETURN_IF_ERROR(client::ValidateStreamId(id));
  GANDER_ASSIGN_OR_RETURN(StreamsStub streams, ConnectStreams(flags));
  grpc::ClientContext context;
  client::PrepareContext(streams.options, id, &context);
  v1::DeleteStreamRequest request;
  request.set_stream_id(id);
  v1::DeleteStreamResponse response;
  GANDER_RETURN_IF_ERROR(FromGrpcStatus(streams.stub->DeleteStream(&context, request, &response)));
  PrintLine(absl::StrCat("deleted ", id));
  return absl::OkStatus();
}

absl::Status Export(const FlagSet& flags, const CommandLine& line) {
  GANDER_ASSIGN_OR_RETURN(client::StreamRef ref, client::ParseStreamRef(line.positionals[0]));
  GANDER_ASSIGN_OR_RETURN(StreamsStub streams, ConnectStreams(flags));
  const std::string out = flags.Get("out");
  GANDER_ASSIGN_OR_RETURN(
      v1::ExportHeader header,
      client::ExportStreamToFile(streams.stub.get(), streams.options, ref, out));
  PrintLine(absl::StrCat("exported ", header.stream().id(), "@", header.version().version(), " (",
                         header.size_bytes(), " bytes, ", v1::StateCodec_Name(header.codec()), ", ",
                         header.version().token_count(), " tokens, checkpoint ",
                         header.version().checkpoint_id(), ") to ", out));
  return absl::OkStatus();
}

absl::Status Import(const FlagSet& flags, const CommandLine& line) {
  const std::string& path = line.positionals[0];
  client::ImportOptions import;
  import.stream_id = flags.Get("id");
  import.tenant = flags.Get("tenant");
  import.checkpoint_id = flags.Get("checkpoint-id");
  GANDER_ASSIGN_OR_RETURN(StreamsStub streams, ConnectStreams(flags));
  GANDER_ASSIGN_OR_RETURN(
      v1::StreamInfo stream,
      client::ImportStreamFromFile(streams.stub.get(), streams.options, path, import));
  PrintLine(absl::StrCat("imported ", path, " as ", Describe(stream)));
  return absl::OkStatus();
}

struct Subcommand {
  const char* name;
  const char* positional_usage;
  const char* description;
  size_t positionals;
  const char* timeout;
  absl::Status (*body)(const FlagSet&, const CommandLine&);
};

constexpr Subcommand kSubcommands[] = {
    {"ls", "", "list the streams (every page)", 0, kAdminTimeout, List},
    {"show", "ID", "describe a stream and its retained versions", 1, kAdminTimeout, Show},
    {"fork", "SOURCE[@VERSION]", "fork a stream (at its head or a version) into a new one", 1,
     kAdminTimeout, Fork},
    {"rm", "ID", "delete a stream and its versions", 1, kAdminTimeout, Remove},
    {"export", "ID[@VERSION]", "write a stream's state (head or a version) to a file", 1,
     kTransferTimeout, Export},
    {"import", "FILE", "create a stream from an exported state file", 1, kTransferTimeout, Import},
};

int StreamsHelp(FILE* out) {
  std::fprintf(out,
               "usage: gander streams SUBCOMMAND [flags] [ARGS]   "
               "('gander streams SUBCOMMAND --help' for its flags)\n\nsubcommands:\n");
  for (const Subcommand& sub : kSubcommands) {
    const std::string usage = absl::StrCat(sub.name, " ", sub.positional_usage);
    std::fprintf(out, "  %-24s %s\n", usage.c_str(), sub.description);
  }
  return 0;
}

}  // namespace

int StreamsCommand(int argc, char** argv) {
  if (argc < 2) {
    StreamsHelp(stderr);
    return 2;
  }
  if (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    return StreamsHelp(stdout);
  }
  for (const Subcommand& sub : kSubcommands) {
    if (std::strcmp(argv[1], sub.name) != 0) continue;
    const std::string name = absl::StrCat("streams ", sub.name);
    FlagSet flags(name);
    client::AddClientFlags(flags, sub.timeout);
    if (sub.body == List) {
      flags.Add("tenant", "whose streams (default: the token's)");
      flags.Add("page-size", "streams per call, 0 to 1000 (0: the server's default)", false, "0");
    } else if (sub.body == Fork) {
      flags.Add("id", "the new stream's id (default: server-assigned)");
    } else if (sub.body == Export) {
      flags.Add("out", "the file to write (atomically, via FILE.tmp)", /*required=*/true);
    } else if (sub.body == Import) {
      flags.Add("id", "the new stream's id (default: server-assigned)");
      flags.Add("tenant", "the owning tenant (default: the token's)");
      flags.Add("checkpoint-id", "the file's expected XXH3-128 (32 hex digits, from export)");
    }
    client::CommandSpec spec;
    spec.name = name;
    spec.positional_usage = sub.positional_usage;
    spec.description = sub.description;
    spec.min_positionals = spec.max_positionals = sub.positionals;
    return client::RunClientCommand(spec, flags, argc - 1, argv + 1, sub.body);
  }
  std::fprintf(stderr, "gander streams: unknown subcommand '%s'\n", argv[1]);
  StreamsHelp(stderr);
  return 2;
}

int ModelsCommand(int argc, char** argv) {
  FlagSet flags("models");
  client::AddClientFlags(flags, kAdminTimeout);
  client::CommandSpec spec;
  spec.name = "models";
  spec.description = "list the models the server has loaded";
  return client::RunClientCommand(
      spec, flags, argc, argv, [](const FlagSet& flags, const CommandLine&) -> absl::Status {
        GANDER_ASSIGN_OR_RETURN(ClientOptions options, client::ClientOptionsFromFlags(flags));
        GANDER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                                client::MakeChannel(options));
        std::unique_ptr<v1::Models::Stub> stub = v1::Models::NewStub(channel);
        grpc::ClientContext context;
        client::PrepareContext(options, "", &context);
        v1::ListModelsResponse response;
        GANDER_RETURN_IF_ERROR(
            FromGrpcStatus(stub->ListModels(&context, v1::ListModelsRequest(), &response)));
        std::fputs(client::FormatModelTable(response).c_str(), stdout);
        return absl::OkStatus();
      });
}

}  // namespace gander::cli
