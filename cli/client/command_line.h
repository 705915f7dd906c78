// Command lines of the client subcommands (`gander chat`, `gander streams
// show ID`, ...): FlagSet (cli/flags.h) takes flags only, so positional
// arguments and repeatable flags (`--stop a --stop b`) are taken out here
// first, and the rest goes to FlagSet.
//
// Example:
//   CommandSpec spec{"streams show", "ID", "describe a stream", {}, {}, 1, 1};
//   FlagSet flags("streams show");
//   AddClientFlags(flags, "30s");
//   return RunClientCommand(spec, flags, argc, argv,
//       [](const FlagSet& flags, const CommandLine& line) -> absl::Status {
//         ... line.positionals[0] ...
//       });
//
// Thread safety: pure functions (RunClientCommand prints to stdout/stderr).
// Failure: INVALID_ARGUMENT naming the flag or argument at fault.
#ifndef GANDER_CLI_CLIENT_COMMAND_LINE_H_
#define GANDER_CLI_CLIENT_COMMAND_LINE_H_

#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/flags.h"

namespace gander::cli::client {

// One subcommand's command line, split.
struct CommandLine {
  // Arguments that are neither flags nor flag values, in order. Everything
  // after a `--` argument is positional.
  std::vector<std::string> positionals;
  // Every value of each repeatable flag, in order, by flag name (without
  // the dashes); absent when the flag was not given.
  std::map<std::string, std::vector<std::string>> repeated;
  // The remaining arguments for FlagSet::Parse; flag_args[0] is argv[0].
  std::vector<std::string> flag_args;
  // True when --help or -h was given (before any `--`).
  bool help = false;
};

// Splits argv[0..argc). `--name=value` and `--name value` are flags;
// `--name` alone is a whole flag when `name` is in `boolean_flags`, else the
// next argument is its value (also for unknown names, which FlagSet then
// rejects). Flags named in `repeatable_flags` go to `repeated`.
// INVALID_ARGUMENT when a non-boolean flag is last with no value.
absl::StatusOr<CommandLine> SplitCommandLine(int argc, const char* const* argv,
                                             const std::set<std::string>& boolean_flags,
                                             const std::set<std::string>& repeatable_flags);

// Runs flags.Parse over `flag_args` (flag_args[0] is the command name).
absl::Status ParseFlagArgs(FlagSet& flags, const std::vector<std::string>& flag_args);

// What a client subcommand accepts besides its FlagSet.
struct CommandSpec {
  // Name shown in messages, for example "streams show".
  std::string name;
  // Positional part of the usage line, for example "ID[@VERSION]"; may be
  // empty.
  std::string positional_usage;
  // One line said under the usage line by --help.
  std::string description;
  // Flags that take no value (declared boolean on the FlagSet as well).
  std::set<std::string> boolean_flags;
  // Flags that may be given more than once (declared on the FlagSet too,
  // for --help; their values come in CommandLine::repeated).
  std::set<std::string> repeatable_flags;
  // How many positional arguments are accepted.
  size_t min_positionals = 0;
  size_t max_positionals = 0;
};

// Runs one client subcommand: --help prints usage (exit 0); a malformed
// command line (split, positional count or flags) prints the problem
// (exit 2); then `body` runs, and a failure prints
// "gander NAME: CODE: message" on stderr (exit 1).
int RunClientCommand(const CommandSpec& spec, FlagSet& flags, int argc, char** argv,
                     const std::function<absl::Status(const FlagSet&, const CommandLine&)>& body);

}  // namespace gander::cli::client

#endif  // GANDER_CLI_CLIENT_COMMAND_LINE_H_
