// A small command-line flag parser for gander's subcommands: each subcommand
// declares its own flags, so an unknown or misspelt flag is an error that
// names it (rather than a global flag registry shared by every command).
//
// Accepts `--name=value`, `--name value`, and `--name` for booleans.
//
// Example:
//   FlagSet flags("eval");
//   flags.Add("model", "path of the model file", /*required=*/true);
//   flags.Add("tokens", "comma-separated token ids");
//   absl::Status s = flags.Parse(argc, argv);   // argv[0] = "eval"
//   std::string model = flags.Get("model");
#ifndef GANDER_CLI_FLAGS_H_
#define GANDER_CLI_FLAGS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gander::cli {

class FlagSet {
 public:
  explicit FlagSet(std::string command) : command_(std::move(command)) {}

  // Declares --name. A required flag must be given; `fallback` is the value
  // of an optional flag that is not given. `boolean` flags take no value.
  void Add(const std::string& name, const std::string& help, bool required = false,
           const std::string& fallback = "", bool boolean = false);

  // Parses argv[1..argc). INVALID_ARGUMENT names an unknown flag, a flag
  // without its value, a missing required flag, or a stray argument.
  absl::Status Parse(int argc, char** argv);

  bool Has(const std::string& name) const;         // given on the command line
  std::string Get(const std::string& name) const;  // value or fallback
  absl::StatusOr<long long> GetInt(const std::string& name) const;
  absl::StatusOr<double> GetDouble(const std::string& name) const;

  // One line per flag, for --help.
  std::string Usage() const;

 private:
  struct Flag {
    std::string help, fallback;
    bool required = false, boolean = false;
  };
  friend int RunCommand(FlagSet&, int, char**, const std::function<absl::Status(const FlagSet&)>&);
  std::string command_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> values_;
};

// Runs one subcommand: prints usage for --help (exit 0), parses the flags
// (a usage error prints it and exits 2), then runs `body` (a failure prints
// the status and exits 1).
int RunCommand(FlagSet& flags, int argc, char** argv,
               const std::function<absl::Status(const FlagSet&)>& body);

}  // namespace gander::cli

#endif  // GANDER_CLI_FLAGS_H_
