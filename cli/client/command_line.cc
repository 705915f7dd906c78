#include "cli/client/command_line.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace gander::cli::client {

absl::StatusOr<CommandLine> SplitCommandLine(int argc, const char* const* argv,
                                             const std::set<std::string>& boolean_flags,
                                             const std::set<std::string>& repeatable_flags) {
  CommandLine line;
  if (argc > 0) line.flag_args.push_back(argv[0]);
  bool only_positionals = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (only_positionals) {
      line.positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positionals = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      line.help = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      line.positionals.push_back(arg);
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::string value;
    bool has_value = eq != std::string::npos;
    if (has_value) value = arg.substr(eq + 1);
    if (!has_value && !boolean_flags.count(name)) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = argv[++i];
      has_value = true;
    }
    if (repeatable_flags.count(name)) {
      line.repeated[name].push_back(has_value ? value : "true");
      continue;
    }
    line.flag_args.push_back(has_value ? absl::StrCat("--", name, "=", value) : arg);
  }
  return line;
}

absl::Status ParseFlagArgs(FlagSet& flags, const std::vector<std::string>& flag_args) {
  std::vector<char*> pointers;
  pointers.reserve(flag_args.size());
  for (const std::string& arg : flag_args) pointers.push_back(const_cast<char*>(arg.c_str()));
  return flags.Parse(static_cast<int>(pointers.size()), pointers.data());
}

int RunClientCommand(const CommandSpec& spec, FlagSet& flags, int argc, char** argv,
                     const std::function<absl::Status(const FlagSet&, const CommandLine&)>& body) {
  absl::StatusOr<CommandLine> line =
      SplitCommandLine(argc, argv, spec.boolean_flags, spec.repeatable_flags);
  if (line.ok() && line->help) {
    std::printf("usage: gander %s [flags]%s%s\n%s%s%s", spec.name.c_str(),
                spec.positional_usage.empty() ? "" : " ", spec.positional_usage.c_str(),
                spec.description.empty() ? "" : "  ", spec.description.c_str(),
                spec.description.empty() ? "" : "\n");
    std::printf("flags:\n%s", flags.Usage().c_str());
    return 0;
  }
  absl::Status usage = line.status();
  if (usage.ok()) {
    const size_t count = line->positionals.size();
    if (count < spec.min_positionals || count > spec.max_positionals) {
      std::string wanted = spec.positional_usage.empty()
                               ? std::string("no arguments")
                               : absl::StrCat("'", spec.positional_usage, "'");
      usage = absl::InvalidArgumentError(
          absl::StrCat(count < spec.min_positionals ? "missing argument" : "too many arguments",
                       " (expected ", wanted, ", got ", count, ")"));
    }
  }
  if (!usage.ok()) {
    std::fprintf(stderr, "gander %s: %s (see 'gander %s --help')\n", spec.name.c_str(),
                 std::string(usage.message()).c_str(), spec.name.c_str());
    return 2;
  }
  // FlagSet's messages already start with the command's name.
  if (absl::Status s = ParseFlagArgs(flags, line->flag_args); !s.ok()) {
    std::fprintf(stderr, "gander %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (absl::Status s = body(flags, *line); !s.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "gander %s: %s\n", spec.name.c_str(), s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace gander::cli::client
