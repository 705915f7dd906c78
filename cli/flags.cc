#include "cli/flags.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace gander::cli {

void FlagSet::Add(const std::string& name, const std::string& help, bool required,
                  const std::string& fallback, bool boolean) {
  flags_[name] = Flag{help, fallback, required, boolean};
  order_.push_back(name);
}

absl::Status FlagSet::Parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(command_, ": unexpected argument '", arg, "' (flags start with --)"));
    }
    arg = arg.substr(2);
    std::string name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(command_, ": unknown flag --", name,
                                                     " (see 'gander ", command_, " --help')"));
    }
    if (it->second.boolean) {
      if (!has_value) value = "true";
    } else if (!has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat(command_, ": --", name, " needs a value"));
      }
      value = argv[++i];
    }
    values_[name] = value;
  }
  for (const auto& [name, flag] : flags_) {
    if (flag.required && !values_.count(name)) {
      return absl::InvalidArgumentError(absl::StrCat(command_, ": --", name, " is required"));
    }
  }
  return absl::OkStatus();
}

bool FlagSet::Has(const std::string& name) const { return values_.count(name) > 0; }

std::string FlagSet::Get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  auto flag = flags_.find(name);
  return flag == flags_.end() ? "" : flag->second.fallback;
}

absl::StatusOr<long long> FlagSet::GetInt(const std::string& name) const {
  long long value = 0;
  if (!absl::SimpleAtoi(Get(name), &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(command_, ": --", name, " must be an integer, got '", Get(name), "'"));
  }
  return value;
}

absl::StatusOr<double> FlagSet::GetDouble(const std::string& name) const {
  double value = 0;
  if (!absl::SimpleAtod(Get(name), &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(command_, ": --", name, " must be a number, got '", Get(name), "'"));
  }
  return value;
}

std::string FlagSet::Usage() const {
  std::string out;
  for (const std::string& name : order_) {
    const Flag& flag = flags_.at(name);
    absl::StrAppend(&out, "  --", name, flag.boolean ? "" : "=VALUE", "\n      ", flag.help);
    if (flag.required) {
      absl::StrAppend(&out, " (required)");
    } else if (!flag.fallback.empty()) {
      absl::StrAppend(&out, " (default: ", flag.fallback, ")");
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

int RunCommand(FlagSet& flags, int argc, char** argv,
               const std::function<absl::Status(const FlagSet&)>& body) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: gander %s [flags]\n%s", flags.command_.c_str(), flags.Usage().c_str());
      return 0;
    }
  }
  if (absl::Status s = flags.Parse(argc, argv); !s.ok()) {
    std::fprintf(stderr, "gander %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (absl::Status s = body(flags); !s.ok()) {
    std::fprintf(stderr, "gander %s: %s\n", flags.command_.c_str(), s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace gander::cli
