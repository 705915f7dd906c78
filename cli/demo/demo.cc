// gander demo: Gander's showcase. Starts a real `gander serve`, streams a
// generation, forks it into two branches, kills the server with SIGKILL in
// the middle of a generation, restarts it on the same store and shows that
// both branches continue token for token as uninterrupted forks ("witnesses")
// of their acknowledged checkpoints do. Exit status 1 when they do not.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/demo/demo_support.h"
#include "cli/demo/model_choice.h"
#include "cli/demo/server_child.h"
#include "cli/demo/stream_session.h"
#include "cli/flags.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "engine/tokenizer/tokenizer.h"
#include "gander/v1/models.grpc.pb.h"

namespace gander::cli {
namespace {

using demo::Generation;
using demo::ModelChoice;
using demo::ServerChild;
using demo::StreamSession;
using demo::TextMode;

constexpr int kSteps = 7;
constexpr char kWorkerId[] = "demo-worker";
// The prompt and the two branches' inputs, as text and (without a
// vocabulary) as token ids (taken modulo the model's vocabulary size).
constexpr char kPrompt[] =
    "User: Tell me a short story about a goose who wants to fly to the moon.\n\nAssistant:";
constexpr char kInputA[] = "\n\nUser: Make it funnier.\n\nAssistant:";
constexpr char kInputB[] = "\n\nUser: Now tell it as a poem.\n\nAssistant:";
const std::vector<int> kPromptIds = {510, 33, 2, 9000, 11, 22, 33, 44};
const std::vector<int> kInputIdsA = {7, 70};
const std::vector<int> kInputIdsB = {9, 90};
// Tokens each branch streams before the server is killed.
constexpr int kTokensBeforeCrash = 4;

void Heading(int step, const std::string& title) {
  std::printf("\n[%d/%d] %s\n", step, kSteps, title.c_str());
  std::fflush(stdout);
}

void Say(const std::string& line) {
  std::printf("  %s\n", line.c_str());
  std::fflush(stdout);
}

std::string Quoted(const std::string& text) {
  return absl::StrCat("\"", demo::EscapeForDisplay(text), "\"");
}

std::string Kilobytes(uint64_t bytes) {
  return absl::StrFormat("%.1f KB", static_cast<double>(bytes) / 1e3);
}

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.1f s", absl::ToDoubleSeconds(d));
}

// How the demo shows tokens, in each text mode.
class TokenView {
 public:
  TokenView(TextMode mode, const engine::Tokenizer* tokenizer)
      : mode_(mode), tokenizer_(tokenizer) {}

  // Starts a line of streamed tokens.
  void Begin(const std::string& label) {
    std::printf("    %-10s| ", label.c_str());
    std::fflush(stdout);
    if (mode_ == TextMode::kClientText) detokenizer_.emplace(tokenizer_);
  }

  void Token(const v1::GeneratedToken& token) {
    std::string piece;
    switch (mode_) {
      case TextMode::kTokenIds:
        piece = absl::StrCat(token.token_id(), " ");
        break;
      case TextMode::kServerText:
        piece = demo::EscapeForDisplay(token.text());
        break;
      case TextMode::kClientText: {
        absl::StatusOr<std::string> bytes = detokenizer_->Push(static_cast<int>(token.token_id()));
        piece =
            bytes.ok() ? demo::EscapeForDisplay(*bytes) : absl::StrCat("<", token.token_id(), ">");
        break;
      }
    }
    std::fputs(piece.c_str(), stdout);
    std::fflush(stdout);
  }

  // Ends the line: the text still held back, then `note`.
  void End(const std::string& trailing_text, const std::string& note = "") {
    std::string rest;
    if (mode_ == TextMode::kServerText) rest = demo::EscapeForDisplay(trailing_text);
    if (mode_ == TextMode::kClientText) rest = demo::EscapeForDisplay(detokenizer_->Flush());
    std::printf("%s%s\n", rest.c_str(), note.c_str());
    std::fflush(stdout);
  }

  // A whole generation on one line, for comparing two of them.
  std::string Whole(const Generation& generation) const {
    switch (mode_) {
      case TextMode::kTokenIds:
        return demo::FormatTokenIds(generation.token_ids);
      case TextMode::kServerText:
        return Quoted(generation.text);
      case TextMode::kClientText:
        break;
    }
    std::string out, raw;
    for (int id : generation.token_ids) {
      absl::StatusOr<absl::string_view> bytes = tokenizer_->TokenBytes(id);
      if (bytes.ok()) {
        raw.append(bytes->data(), bytes->size());
        continue;
      }
      absl::StrAppend(&out, demo::EscapeForDisplay(raw), "<", id, ">");
      raw.clear();
    }
    return absl::StrCat("\"", out, demo::EscapeForDisplay(raw), "\"");
  }

 private:
  const TextMode mode_;
  const engine::Tokenizer* tokenizer_;
  std::optional<engine::StreamingDetokenizer> detokenizer_;
};

// One stream the demo follows.
struct Branch {
  std::string id;
  uint64_t seed = 0;
  std::string input_text;
  std::vector<int> input_ids;
  std::unique_ptr<StreamSession> session;
  uint64_t version = 0;  // the last acknowledged checkpoint
  uint64_t token_count = 0;
  Generation expected;  // the witness's continuation
  Generation actual;    // the continuation after the crash
};

class Demo {
 public:
  explicit Demo(const FlagSet& flags) : flags_(flags) {}
  absl::Status Run();

 private:
  absl::Status ParseFlags();
  absl::Status PrepareDataDir();
  absl::Status StartServer(bool restart);
  absl::Status DescribeModel();
  v1::Generate GenerateRequest(uint32_t max_tokens) const;
  absl::StatusOr<std::unique_ptr<StreamSession>> OpenStream(const v1::Open& open,
                                                            const std::string& id);
  absl::Status Append(StreamSession& session, const std::string& text, const std::vector<int>& ids);
  // Reads a started generation, printing it under `label`, and records the
  // acknowledged checkpoint in *branch when given.
  absl::StatusOr<Generation> Stream(StreamSession& session, const std::string& label,
                                    Branch* branch);
  void Acknowledge(const std::string& id, const Generation& generation);
  std::vector<int> Ids(const std::vector<int>& ids) const;

  absl::Status CreateBase();
  absl::Status ForkBranches();
  absl::Status WitnessesAndCrash();
  absl::Status RestartAndResume();
  absl::Status ShutDown();

  const FlagSet& flags_;
  uint32_t tokens_ = 24;
  int threads_ = 0;
  uint64_t seed_ = 7;
  ModelChoice model_;
  std::unique_ptr<TokenView> view_;
  std::string binary_;
  std::string data_dir_, store_dir_, log_path_, ready_file_;
  bool temporary_data_dir_ = false;
  std::unique_ptr<ServerChild> server_;
  std::shared_ptr<grpc::Channel> channel_;
  int vocab_size_ = 0;
  Branch base_;
  std::vector<Branch> branches_;  // A and B
  int checkpoints_ = 0;
  bool all_durable_ = true;
  absl::Duration restart_time_;
};

absl::Status Demo::ParseFlags() {
  GANDER_ASSIGN_OR_RETURN(long long tokens, flags_.GetInt("tokens"));
  if (tokens < 1 || tokens > 1000) {
    return absl::InvalidArgumentError(absl::StrCat("--tokens must be in [1, 1000], got ", tokens));
  }
  tokens_ = static_cast<uint32_t>(tokens);
  GANDER_ASSIGN_OR_RETURN(long long threads, flags_.GetInt("threads"));
  if (threads < 0 || threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--threads must be in [0, 1024], got ", threads));
  }
  threads_ = static_cast<int>(threads);
  GANDER_ASSIGN_OR_RETURN(long long seed, flags_.GetInt("seed"));
  if (seed < 0) return absl::InvalidArgumentError("--seed must be >= 0");
  seed_ = static_cast<uint64_t>(seed);
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return absl::InternalError("cannot find the gander binary (/proc/self/exe)");
  binary_.assign(path, static_cast<size_t>(n));
  return absl::OkStatus();
}

absl::Status Demo::PrepareDataDir() {
  std::error_code error;
  if (flags_.Has("data-dir")) {
    data_dir_ = flags_.Get("data-dir");
    std::filesystem::create_directories(data_dir_, error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot create ", data_dir_, ": ", error.message()));
    }
  } else {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp", "/gander-demo-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot create a folder like ", pattern));
    }
    data_dir_ = pattern;
    temporary_data_dir_ = true;
  }
  store_dir_ = absl::StrCat(data_dir_, "/store");
  log_path_ = absl::StrCat(data_dir_, "/server.log");
  ready_file_ = absl::StrCat(data_dir_, "/server.ready");
  if (std::filesystem::exists(store_dir_, error)) {
    return absl::FailedPreconditionError(
        absl::StrCat(store_dir_, " already exists: the demo needs a fresh --data-dir"));
  }
  Say(absl::StrCat("demo folder: ", data_dir_));
  Say(absl::StrCat("  store (embedded RocksDB): ", store_dir_));
  Say(absl::StrCat("  server log:               ", log_path_));
  return absl::OkStatus();
}

absl::Status Demo::StartServer(bool restart) {
  const char* what = restart ? "restarting" : "starting";
  std::vector<std::string> args = {"serve",
                                   "--model=" + model_.model_path,
                                   "--listen=127.0.0.1:0",
                                   "--metrics-listen=",
                                   "--data-dir=" + store_dir_,
                                   "--ready-file=" + ready_file_,
                                   absl::StrCat("--worker-id=", kWorkerId),
                                   absl::StrCat("--threads=", threads_)};
  if (!model_.server_vocab.empty()) args.push_back("--vocab=" + model_.server_vocab);
  if (FILE* log = std::fopen(log_path_.c_str(), "a")) {
    std::fprintf(log, "==== gander demo: %s the server ====\n", what);
    std::fclose(log);
  }
  const absl::Time start = absl::Now();
  GANDER_ASSIGN_OR_RETURN(server_, ServerChild::Start(binary_, args, log_path_, ready_file_));
  Say(absl::StrCat(what, ": gander ", absl::StrJoin(args, " ")));
  GANDER_ASSIGN_OR_RETURN(int port, server_->WaitReady(absl::Minutes(2)));
  const absl::Duration took = absl::Now() - start;
  if (restart) restart_time_ = took;
  Say(absl::StrCat("server pid ", server_->pid(), " listening on 127.0.0.1:", port, " (ready in ",
                   Seconds(took), ")"));
  channel_ =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  return absl::OkStatus();
}

absl::Status Demo::DescribeModel() {
  auto stub = v1::Models::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::ListModelsResponse response;
  GANDER_RETURN_IF_ERROR(
      FromGrpcStatus(stub->ListModels(&context, v1::ListModelsRequest(), &response)));
  if (response.models_size() != 1) {
    return absl::InternalError(
        absl::StrCat("the server lists ", response.models_size(), " models, expected 1"));
  }
  const v1::ModelInfo& info = response.models(0);
  Say(absl::StrFormat("serving \"%s\": %d layers, C=%d, V=%d, %s weights; fingerprint %s",
                      info.name(), info.layers(), info.embedding_size(), info.vocab_size(),
                      info.weight_dtype(), info.fingerprint()));
  Say(absl::StrCat("each stream's whole memory is a fixed-size state of ",
                   Kilobytes(info.state_bytes()), ", whatever its length"));
  vocab_size_ = static_cast<int>(info.vocab_size());
  if (model_.official &&
      (info.layers() != demo::kOfficialLayers || info.embedding_size() != demo::kOfficialEmbd ||
       info.vocab_size() != demo::kOfficialVocabSize)) {
    return absl::DataLossError(absl::StrFormat(
        "%s loads as L=%d C=%d V=%d, not as the official 0.1B model (L=%d C=%d V=%d)",
        model_.model_path, info.layers(), info.embedding_size(), info.vocab_size(),
        demo::kOfficialLayers, demo::kOfficialEmbd, demo::kOfficialVocabSize));
  }
  if (vocab_size_ < 1) return absl::InternalError("the server reports a vocabulary of size 0");
  return absl::OkStatus();
}

v1::Generate Demo::GenerateRequest(uint32_t max_tokens) const {
  v1::Generate generate;
  generate.set_max_tokens(max_tokens);
  generate.mutable_sampling()->set_temperature(1.0f);
  generate.mutable_sampling()->set_top_p(0.7f);
  return generate;
}

std::vector<int> Demo::Ids(const std::vector<int>& ids) const {
  std::vector<int> out;
  for (int id : ids) out.push_back(id % vocab_size_);
  return out;
}

absl::StatusOr<std::unique_ptr<StreamSession>> Demo::OpenStream(const v1::Open& open,
                                                                const std::string& id) {
  GANDER_ASSIGN_OR_RETURN(std::unique_ptr<StreamSession> session,
                          StreamSession::Open(channel_, open, id));
  const v1::Opened& opened = session->opened();
  std::string how;
  if (open.has_create()) {
    how = "created";
  } else if (open.has_fork()) {
    how = absl::StrCat("forked from \"", open.fork().source_stream_id(), "\" version ",
                       open.fork().version(), " as");
  } else {
    how = "resumed";
  }
  Say(absl::StrCat(how, " stream \"", opened.stream_id(), "\" (seed ", open.seed(), "): version ",
                   opened.version(), ", ", opened.token_count(), " tokens consumed so far"));
  return session;
}

absl::Status Demo::Append(StreamSession& session, const std::string& text,
                          const std::vector<int>& ids) {
  absl::StatusOr<v1::InputAppended> appended;
  std::string shown;
  switch (model_.text_mode) {
    case TextMode::kServerText:
      appended = session.AppendText(text);
      shown = Quoted(text);
      break;
    case TextMode::kClientText: {
      GANDER_ASSIGN_OR_RETURN(std::vector<int> encoded, model_.tokenizer->Encode(text));
      appended = session.AppendTokens(encoded);
      shown = absl::StrCat(Quoted(text), " (encoded by the demo)");
      break;
    }
    case TextMode::kTokenIds:
      appended = session.AppendTokens(Ids(ids));
      shown = absl::StrCat("token ids ", demo::FormatTokenIds(Ids(ids)));
      break;
  }
  if (!appended.ok()) return appended.status();
  Say(absl::StrCat("appended ", shown, ": ", appended->token_count(), " tokens"));
  return absl::OkStatus();
}

void Demo::Acknowledge(const std::string& id, const Generation& generation) {
  const v1::Checkpointed& c = *generation.checkpoint;
  ++checkpoints_;
  all_durable_ = all_durable_ && c.durable();
  Say(absl::StrCat("checkpoint acknowledged: \"", id, "\" version ", c.version(), " (",
                   c.durable() ? "durable" : "NOT durable", ", ", c.token_count(), " tokens, ",
                   Kilobytes(c.size_bytes()), ")"));
}

absl::StatusOr<Generation> Demo::Stream(StreamSession& session, const std::string& label,
                                        Branch* branch) {
  view_->Begin(label);
  absl::StatusOr<Generation> generation =
      session.ReadGeneration([this](const v1::GeneratedToken& t) { view_->Token(t); });
  if (!generation.ok()) {
    view_->End("", " [failed]");
    return generation.status();
  }
  view_->End(generation->finished.trailing_text());
  if (!generation->checkpoint.has_value()) {
    return absl::InternalError(absl::StrCat("no checkpoint followed the generation on ", label));
  }
  Acknowledge(session.opened().stream_id(), *generation);
  if (branch != nullptr) {
    branch->version = generation->checkpoint->version();
    branch->token_count = generation->checkpoint->token_count();
  }
  return generation;
}

absl::Status Demo::CreateBase() {
  Heading(3, "One stream: create it, append a prompt, stream a generation");
  base_.id = "base";
  base_.seed = seed_;
  v1::Open open;
  open.mutable_create()->set_stream_id(base_.id);
  open.set_seed(base_.seed);
  GANDER_ASSIGN_OR_RETURN(base_.session, OpenStream(open, base_.id));
  GANDER_RETURN_IF_ERROR(Append(*base_.session, kPrompt, kPromptIds));
  Say(absl::StrCat("generating ", tokens_, " tokens (temperature 1, top-p 0.7), as they arrive:"));
  GANDER_RETURN_IF_ERROR(base_.session->StartGenerate(GenerateRequest(tokens_)));
  GANDER_RETURN_IF_ERROR(Stream(*base_.session, base_.id, &base_).status());
  return base_.session->Close();
}

absl::Status Demo::ForkBranches() {
  Heading(4, absl::StrCat("Two branches forked from \"base\" version ", base_.version));
  branches_.resize(2);
  branches_[0].id = "A";
  branches_[0].seed = seed_ + 1;
  branches_[0].input_text = kInputA;
  branches_[0].input_ids = kInputIdsA;
  branches_[1].id = "B";
  branches_[1].seed = seed_ + 2;
  branches_[1].input_text = kInputB;
  branches_[1].input_ids = kInputIdsB;
  for (Branch& branch : branches_) {
    v1::Open open;
    open.mutable_fork()->set_source_stream_id(base_.id);
    open.mutable_fork()->set_version(base_.version);
    open.mutable_fork()->set_stream_id(branch.id);
    open.set_seed(branch.seed);
    GANDER_ASSIGN_OR_RETURN(branch.session, OpenStream(open, branch.id));
    GANDER_RETURN_IF_ERROR(Append(*branch.session, branch.input_text, branch.input_ids));
  }
  Say("both branches generate at once (the server batches them); their calls stay open:");
  for (Branch& branch : branches_) {
    GANDER_RETURN_IF_ERROR(branch.session->StartGenerate(GenerateRequest(tokens_)));
  }
  for (Branch& branch : branches_) {
    GANDER_RETURN_IF_ERROR(Stream(*branch.session, branch.id, &branch).status());
  }
  return absl::OkStatus();
}

absl::Status Demo::WitnessesAndCrash() {
  Heading(5, "Witnesses, then a crash in the middle of a generation");
  Say("each branch is forked once more at its acknowledged version, with its seed: the");
  Say("witness's continuation is what the branch must generate next, crash or no crash");
  for (Branch& branch : branches_) {
    const std::string witness_id = branch.id + "-witness";
    v1::Open open;
    open.mutable_fork()->set_source_stream_id(branch.id);
    open.mutable_fork()->set_version(branch.version);
    open.mutable_fork()->set_stream_id(witness_id);
    open.set_seed(branch.seed);
    GANDER_ASSIGN_OR_RETURN(std::unique_ptr<StreamSession> witness, OpenStream(open, witness_id));
    GANDER_RETURN_IF_ERROR(witness->StartGenerate(GenerateRequest(tokens_)));
    GANDER_ASSIGN_OR_RETURN(branch.expected, Stream(*witness, witness_id, nullptr));
    GANDER_RETURN_IF_ERROR(witness->Close());
  }

  Say("now A and B start long generations (up to 4096 tokens) on their open calls:");
  for (Branch& branch : branches_) {
    GANDER_RETURN_IF_ERROR(branch.session->StartGenerate(GenerateRequest(4096)));
  }
  for (Branch& branch : branches_) {
    view_->Begin(branch.id);
    for (int i = 0; i < kTokensBeforeCrash; ++i) {
      absl::StatusOr<v1::GeneratedToken> token = branch.session->NextToken();
      if (!token.ok()) {
        view_->End("", " [failed]");
        return token.status();
      }
      view_->Token(*token);
    }
    view_->End("", " ...");
  }
  Say(absl::StrCat("SIGKILL -> server pid ", server_->pid(),
                   " while both generations are streaming (nothing of them is checkpointed)"));
  server_->Signal(SIGKILL);
  GANDER_ASSIGN_OR_RETURN(int wait_status, server_->Wait(absl::Seconds(30)));
  Say(absl::StrCat("the server ", demo::DescribeWaitStatus(wait_status)));
  for (Branch& branch : branches_) branch.session->Abandon();
  return absl::OkStatus();
}

absl::Status Demo::RestartAndResume() {
  Heading(6, "Restart on the same store; resume A and B; compare with the witnesses");
  GANDER_RETURN_IF_ERROR(StartServer(/*restart=*/true));
  Say(absl::StrCat("same --data-dir and --worker-id=", kWorkerId,
                   ", so it takes its streams' leases back at once"));
  for (Branch& branch : branches_) {
    v1::Open open;
    open.mutable_resume()->set_stream_id(branch.id);
    open.set_seed(branch.seed);
    GANDER_ASSIGN_OR_RETURN(branch.session, OpenStream(open, branch.id));
    const v1::Opened& opened = branch.session->opened();
    if (opened.version() != branch.version || opened.token_count() != branch.token_count) {
      Say(absl::StrCat("!! expected version ", branch.version, " with ", branch.token_count,
                       " tokens: the acknowledged checkpoint was not the head"));
    }
    GANDER_RETURN_IF_ERROR(branch.session->StartGenerate(GenerateRequest(tokens_)));
    GANDER_ASSIGN_OR_RETURN(branch.actual, Stream(*branch.session, branch.id, &branch));
    GANDER_RETURN_IF_ERROR(branch.session->Close());
  }
  return absl::OkStatus();
}

absl::Status Demo::ShutDown() {
  Heading(7, "Shut down");
  Say(absl::StrCat("SIGTERM -> server pid ", server_->pid(),
                   " (a graceful stop: open streams are checkpointed, leases released)"));
  for (Branch& branch : branches_) branch.session.reset();
  channel_.reset();  // the demo's connection goes first
  const absl::Time stop_start = absl::Now();
  server_->Signal(SIGTERM);
  GANDER_ASSIGN_OR_RETURN(int wait_status, server_->Wait(absl::Seconds(60)));
  Say(absl::StrCat("the server ", demo::DescribeWaitStatus(wait_status), " after ",
                   Seconds(absl::Now() - stop_start)));
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    return absl::InternalError(
        absl::StrCat("the server did not stop cleanly: ", demo::DescribeWaitStatus(wait_status),
                     "; see ", log_path_));
  }
  return absl::OkStatus();
}

absl::Status Demo::Run() {
  const absl::Time start = absl::Now();
  GANDER_RETURN_IF_ERROR(ParseFlags());
  std::printf(
      "Gander demo: one worker serving RWKV-7 token streams whose recurrent state is\n"
      "durable and forkable. A stream generates, forks into two branches, the server is\n"
      "killed with SIGKILL mid-generation and restarted, and both branches must continue\n"
      "exactly as uninterrupted copies of their last acknowledged checkpoints do.\n");

  Heading(1, "Model");
  demo::ModelChoiceOptions choice_options;
  choice_options.model_path = flags_.Get("model");
  choice_options.vocab_path = flags_.Get("vocab");
  choice_options.offline = flags_.Has("offline") && flags_.Get("offline") != "false";
  if (choice_options.model_path.empty()) {
    if (flags_.Has("cache-dir")) {
      choice_options.cache_dir = flags_.Get("cache-dir");
    } else {
      absl::StatusOr<std::string> cache_dir = demo::DefaultCacheDir(demo::SystemEnv());
      choice_options.cache_dir =
          cache_dir.ok() ? *cache_dir : demo::FallbackCacheDir(demo::SystemEnv(), getuid());
      choice_options.cache_dir_fallback = true;
    }
  }
  GANDER_ASSIGN_OR_RETURN(model_, demo::ChooseModel(choice_options));
  view_ = std::make_unique<TokenView>(model_.text_mode, model_.tokenizer.get());

  Heading(2, "Start the server: `gander serve` as a child process");
  GANDER_RETURN_IF_ERROR(PrepareDataDir());
  GANDER_RETURN_IF_ERROR(StartServer(/*restart=*/false));
  GANDER_RETURN_IF_ERROR(DescribeModel());

  GANDER_RETURN_IF_ERROR(CreateBase());
  GANDER_RETURN_IF_ERROR(ForkBranches());
  GANDER_RETURN_IF_ERROR(WitnessesAndCrash());
  GANDER_RETURN_IF_ERROR(RestartAndResume());

  std::printf("\n  Expected (witness) vs actual (resumed after the crash):\n");
  std::vector<std::string> verdicts, different;
  for (const Branch& branch : branches_) {
    const std::optional<size_t> diff =
        demo::FirstDifference(branch.expected.token_ids, branch.actual.token_ids);
    std::printf("    %s expected | %s\n", branch.id.c_str(), view_->Whole(branch.expected).c_str());
    std::printf("    %s actual   | %s\n", branch.id.c_str(), view_->Whole(branch.actual).c_str());
    std::string verdict;
    if (!diff.has_value()) {
      verdict = absl::StrCat("branch ", branch.id, ": IDENTICAL (", branch.actual.token_ids.size(),
                             " of ", branch.expected.token_ids.size(), " tokens)");
    } else {
      verdict =
          absl::StrCat("branch ", branch.id, ": DIFFERENT (first difference at token ", *diff, ")");
      different.push_back(branch.id);
    }
    std::printf("    => %s\n", verdict.c_str());
    verdicts.push_back(verdict);
  }
  std::fflush(stdout);

  GANDER_RETURN_IF_ERROR(ShutDown());
  if (temporary_data_dir_) {
    std::error_code error;
    std::filesystem::remove_all(store_dir_, error);
    if (!error) Say(absl::StrCat("removed the demo's store ", store_dir_));
  }

  std::printf("\nSummary\n");
  std::printf("  model          %s\n", model_.summary.c_str());
  std::printf("  streams        base, A, B, A-witness, B-witness; %d checkpoints acknowledged%s\n",
              checkpoints_, all_durable_ ? ", all durable" : "");
  std::printf("  crash          SIGKILL during a generation; restart ready in %s\n",
              Seconds(restart_time_).c_str());
  for (const std::string& verdict : verdicts) std::printf("  continuation   %s\n", verdict.c_str());
  std::printf("  server log     %s\n", log_path_.c_str());
  std::printf("  time           %s\n", Seconds(absl::Now() - start).c_str());
  std::fflush(stdout);
  if (!different.empty()) {
    return absl::InternalError(absl::StrCat("branch ", absl::StrJoin(different, " and "),
                                            " did not continue exactly after the restart"));
  }
  std::printf(
      "\nOK: both branches continued exactly where their acknowledged checkpoints left off.\n");
  return absl::OkStatus();
}

}  // namespace

int DemoCommand(int argc, char** argv) {
  FlagSet flags("demo");
  flags.Add("model",
            "model file (.pth or .safetensors); default: the official RWKV-7 World 0.1B, "
            "downloaded when the network allows, else a random model");
  flags.Add("vocab", "vocabulary for --model (rwkv_vocab_v20230424.txt); without it, token ids");
  flags.Add("cache-dir",
            "downloads and random models (default: $XDG_CACHE_HOME/gander or ~/.cache/gander)");
  flags.Add("data-dir",
            "folder for the server's store, log and ready file (default: a fresh temporary "
            "folder; its store is removed at the end)");
  flags.Add("offline", "never try to download the official model", false, "", /*boolean=*/true);
  flags.Add("tokens", "tokens per generation", false, "24");
  flags.Add("seed", "seed of the first stream; the branches use seed+1 and seed+2", false, "7");
  flags.Add("threads", "the server's engine threads (0 = every core)", false, "0");
  return RunCommand(flags, argc, argv, [](const FlagSet& parsed) { return Demo(parsed).Run(); });
}

}  // namespace gander::cli
