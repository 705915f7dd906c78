// gander chat: an interactive conversation over one Sessions.Stream call.
// Each line read from stdin becomes one turn (the chat template, or the line
// as is with --raw); the reply streams to stdout token by token, and a
// one-line summary per turn goes to stderr. --prompt runs one turn and
// exits. Ctrl-C during a reply cancels it; Ctrl-C again (or when idle)
// quits. A line "/checkpoint" writes a checkpoint now.
#include <grpcpp/channel.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cli/client/chat_format.h"
#include "cli/client/chat_session.h"
#include "cli/client/command_line.h"
#include "cli/client/connection.h"
#include "cli/client/interrupt_watcher.h"
#include "cli/client/session_flags.h"
#include "cli/client/stream_ref.h"
#include "cli/commands.h"
#include "common/status_macros.h"
#include "gander/v1/sessions.grpc.pb.h"

namespace gander::cli {
namespace {

using client::ChatSession;
using client::CommandLine;

// The open request the target flags describe.
absl::StatusOr<v1::Open> OpenFromFlags(const FlagSet& flags) {
  v1::Open open;
  GANDER_RETURN_IF_ERROR(client::SetOpenOptionsFromFlags(flags, &open));
  const bool create = flags.Get("new") == "true";
  const int targets =
      (flags.Has("stream") ? 1 : 0) + (create ? 1 : 0) + (flags.Has("fork-from") ? 1 : 0);
  if (targets != 1) {
    return absl::InvalidArgumentError(
        "give exactly one of --stream=ID (resume), --new (create) or --fork-from=ID[@VERSION]");
  }
  if (flags.Has("id") && !create && !flags.Has("fork-from")) {
    return absl::InvalidArgumentError("--id names a new stream: use it with --new or --fork-from");
  }
  if ((flags.Has("model") || flags.Has("tenant")) && !create) {
    return absl::InvalidArgumentError("--model and --tenant apply to --new only");
  }
  const std::string new_id = flags.Get("id");
  if (!new_id.empty()) GANDER_RETURN_IF_ERROR(client::ValidateStreamId(new_id));
  if (create) {
    v1::CreateTarget* target = open.mutable_create();
    target->set_model(flags.Get("model"));
    target->set_tenant(flags.Get("tenant"));
    target->set_stream_id(new_id);
  } else if (flags.Has("stream")) {
    GANDER_RETURN_IF_ERROR(client::ValidateStreamId(flags.Get("stream")));
    open.mutable_resume()->set_stream_id(flags.Get("stream"));
  } else {
    GANDER_ASSIGN_OR_RETURN(client::StreamRef source,
                            client::ParseStreamRef(flags.Get("fork-from")));
    v1::ForkTarget* target = open.mutable_fork();
    target->set_source_stream_id(source.id);
    target->set_version(source.version);
    target->set_stream_id(new_id);
  }
  return open;
}

// The generate request of every turn.
absl::StatusOr<v1::Generate> GenerateFromFlags(const FlagSet& flags, const CommandLine& line) {
  v1::Generate generate;
  GANDER_ASSIGN_OR_RETURN(uint64_t max_tokens,
                          client::GetUnsignedFlag(flags, "max-tokens", 0, UINT32_MAX));
  generate.set_max_tokens(static_cast<uint32_t>(max_tokens));
  GANDER_ASSIGN_OR_RETURN(*generate.mutable_sampling(), client::SamplingFromFlags(flags));
  GANDER_ASSIGN_OR_RETURN(std::vector<uint32_t> stop_ids,
                          client::ParseTokenIds(flags.Get("stop-token-ids")));
  for (uint32_t id : stop_ids) generate.add_stop_token_ids(id);
  std::vector<std::string> stops;
  if (auto it = line.repeated.find("stop"); it != line.repeated.end()) {
    GANDER_ASSIGN_OR_RETURN(stops, client::ParseStopStrings(it->second));
  } else if (flags.Get("raw") != "true") {
    stops.push_back(client::kDefaultChatStop);
  }
  for (std::string& stop : stops) generate.add_stop_strings(std::move(stop));
  return generate;
}

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

std::string DescribeCheckpoint(const v1::Checkpointed& checkpoint) {
  return absl::StrCat("checkpoint v", checkpoint.version(), " (", checkpoint.token_count(),
                      " tokens, ", checkpoint.size_bytes(), " bytes",
                      checkpoint.durable() ? "" : ", not durable", ")");
}

client::ChatCallbacks PrintingCallbacks() {
  client::ChatCallbacks callbacks;
  callbacks.on_token = [](const v1::GeneratedToken& token) { Print(token.text()); };
  callbacks.on_generation_finished = [](const v1::GenerationFinished& finished) {
    Print(absl::StrCat(finished.trailing_text(), "\n"));
  };
  callbacks.on_turn_summary = [](const client::TurnSummary& summary) {
    const v1::GenerationFinished& f = summary.finished;
    std::string line =
        absl::StrCat("-- ", client::FinishReasonName(f.reason()), ", ", f.generated_token_count(),
                     " tokens; stream at ", f.token_count(), " tokens");
    if (summary.checkpoint.has_value()) {
      absl::StrAppend(&line, "; ", DescribeCheckpoint(*summary.checkpoint));
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  };
  callbacks.on_checkpoint = [](const v1::Checkpointed& checkpoint) {
    std::fprintf(stderr, "-- %s\n", DescribeCheckpoint(checkpoint).c_str());
  };
  return callbacks;
}

// The input of one turn.
v1::AppendInput TurnInput(const std::string& text, bool raw) {
  v1::AppendInput input;
  if (raw) {
    if (!text.empty()) input.set_text(text);
  } else {
    input.set_text(client::FormatChatTurn(text));
  }
  return input;
}

absl::Status Chat(const FlagSet& flags, const CommandLine& line) {
  GANDER_ASSIGN_OR_RETURN(client::ClientOptions options, client::ClientOptionsFromFlags(flags));
  GANDER_ASSIGN_OR_RETURN(v1::Open open, OpenFromFlags(flags));
  GANDER_ASSIGN_OR_RETURN(v1::Generate generate, GenerateFromFlags(flags, line));
  const bool raw = flags.Get("raw") == "true";
  GANDER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, client::MakeChannel(options));
  std::unique_ptr<v1::Sessions::Stub> stub = v1::Sessions::NewStub(channel);

  // Ctrl-C: cancel the running generation; a second one (or one while
  // idle) quits at once.
  absl::Mutex session_mu;
  ChatSession* active = nullptr;  // Guarded by session_mu.
  client::InterruptWatcher watcher([&] {
    absl::MutexLock lock(&session_mu);
    if (active != nullptr && active->CancelGeneration() == ChatSession::CancelResult::kSent) {
      std::fprintf(stderr, "\n-- cancelling (Ctrl-C again to quit)\n");
      return;
    }
    if (active != nullptr) active->Abort();
    std::fflush(stdout);
    std::fprintf(stderr, "\n-- interrupted\n");
    std::_Exit(130);
  });
  GANDER_RETURN_IF_ERROR(watcher.Start());

  GANDER_ASSIGN_OR_RETURN(std::unique_ptr<ChatSession> session,
                          ChatSession::Open(stub.get(), options, open, PrintingCallbacks()));
  {
    absl::MutexLock lock(&session_mu);
    active = session.get();
  }
  auto detach = [&] {
    absl::MutexLock lock(&session_mu);
    active = nullptr;
  };
  const v1::Opened& opened = session->opened();
  std::fprintf(stderr, "-- stream %s (version %llu, %llu tokens, model %s)\n",
               opened.stream_id().c_str(), static_cast<unsigned long long>(opened.version()),
               static_cast<unsigned long long>(opened.token_count()), opened.model().c_str());

  absl::Status status;
  if (flags.Has("prompt")) {
    status = session->RunTurn(TurnInput(flags.Get("prompt"), raw), generate).status();
  } else {
    std::string text;
    while (status.ok() && std::getline(std::cin, text)) {
      if (text == "/checkpoint") {
        status = session->Checkpoint().status();
        continue;
      }
      if (text.empty() || text == "\r") continue;
      status = session->RunTurn(TurnInput(text, raw), generate).status();
    }
  }
  if (status.ok()) status = session->Close();
  detach();
  return status;
}

}  // namespace

int ChatCommand(int argc, char** argv) {
  FlagSet flags("chat");
  client::AddClientFlags(flags, /*default_timeout=*/"0");
  flags.Add("stream", "resume this stream (ID)");
  flags.Add("new", "create a new stream", false, "", /*boolean=*/true);
  flags.Add("fork-from", "fork this stream (ID or ID@VERSION) into a new one and continue it");
  flags.Add("id", "with --new or --fork-from: the new stream's id (default: server-assigned)");
  flags.Add("model", "with --new: the model's name (default: the server's only model)");
  flags.Add("tenant", "with --new: the owning tenant (default: the token's)");
  client::AddSessionFlags(flags);
  flags.Add("max-tokens", "tokens to generate per turn at most; 0 = the server's limit", false,
            "200");
  client::AddSamplingFlags(flags);
  flags.Add("stop",
            "stop string (repeatable, or a comma list; \\n \\t \\, \\\\ escapes; default "
            "\"\\n\\nUser:\" unless --raw)");
  flags.Add("stop-token-ids", "comma-separated token ids that end a turn");
  flags.Add("raw", "send each line as is instead of \"User: LINE\\n\\nAssistant:\"", false, "",
            /*boolean=*/true);
  flags.Add("prompt", "run one turn with this text, print the reply, and exit");
  client::CommandSpec spec;
  spec.name = "chat";
  spec.description = "talk to a stream: one turn per line of stdin (or --prompt)";
  spec.boolean_flags = {"new", "raw"};
  spec.repeatable_flags = {"stop"};
  return client::RunClientCommand(spec, flags, argc, argv, Chat);
}

}  // namespace gander::cli
