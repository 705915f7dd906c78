// gander: the command-line entry point of Gander. Each subcommand is one job;
// `gander help` lists them.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/doctor.h"

namespace gander::cli {
namespace {

constexpr char kVersion[] = "0.1.0-dev";

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);  // argv[0] is the subcommand's name
};

int Help(int, char**);

int Version(int, char**) {
  std::printf("gander %s\n", kVersion);
  return 0;
}

}  // namespace

int DoctorCommand(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  std::string scratch = tmp != nullptr ? tmp : "/tmp";
  if (argc > 1) scratch = argv[1];
  const auto checks = RunDoctor(scratch);
  for (const Check& check : checks) {
    const char* verdict = check.status.ok() ? "ok" : (check.required ? "FAIL" : "info");
    std::printf("%-18s %-4s %s", check.name.c_str(), verdict, check.detail.c_str());
    if (!check.status.ok()) std::printf(" (%s)", check.status.ToString().c_str());
    std::printf("\n");
  }
  const bool ok = AllPassed(checks);
  std::printf("%s\n", ok ? "doctor: this machine can run gander"
                         : "doctor: this machine cannot run gander (see FAIL above)");
  return ok ? 0 : 1;
}

namespace {

constexpr Command kCommands[] = {
    {"help", "show this list", Help},
    {"version", "print gander's version", Version},
    {"doctor", "check this machine: libraries, RocksDB durability, CUDA [SCRATCH_DIR]",
     DoctorCommand},
    {"eval", "run tokens through a model; write the last logits (.npy) and state", EvalCommand},
    {"generate", "stream generated text for a prompt", GenerateCommand},
    {"init-random", "write a random model in the official layout (.pth/.safetensors)",
     InitRandomCommand},
    {"serve", "run an inference worker: Sessions, Streams, Models, health, metrics", ServeCommand},
    {"chat", "talk to a stream on a server, one turn per line (or --prompt)", ChatCommand},
    {"streams", "manage streams on a server: ls, show, fork, rm, export, import", StreamsCommand},
    {"models", "list the models a server has loaded", ModelsCommand},
    {"demo", "the showcase: stream, fork, kill -9 a server, resume exactly", DemoCommand},
    {"store-server", "serve a shared state store (RocksDB) over gRPC to workers",
     StoreServerCommand},
};

int Help(int, char**) {
  std::printf(
      "gander: serves RWKV-7 to many long-lived token streams with durable,\n"
      "forkable recurrent state.\n\n"
      "usage: gander COMMAND [FLAGS]   ('gander COMMAND --help' for its flags)\n\n"
      "commands:\n");
  for (const Command& command : kCommands) {
    std::printf("  %-12s %s\n", command.name, command.summary);
  }
  return 0;
}

}  // namespace
}  // namespace gander::cli

int main(int argc, char** argv) {
  using gander::cli::kCommands;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    gander::cli::Help(0, nullptr);
    return argc < 2 ? 2 : 0;
  }
  for (const auto& command : kCommands) {
    if (std::strcmp(argv[1], command.name) == 0) return command.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "gander: unknown command '%s' (see 'gander help')\n", argv[1]);
  return 2;
}
