// The subcommands of `gander`, one function each. argv[0] is the
// subcommand's name; the return value is the process's exit code (0 ok,
// 1 failure, 2 usage error). Each prints `gander CMD --help` usage.
#ifndef GANDER_CLI_COMMANDS_H_
#define GANDER_CLI_COMMANDS_H_

namespace gander::cli {

// gander doctor [SCRATCH_DIR]
int DoctorCommand(int argc, char** argv);
// gander eval --model PATH (--tokens 1,2,3 | --text STR --vocab PATH)
//             --logits-out OUT.npy [--state-out FILE] [--dtype fp32|bf16]
int EvalCommand(int argc, char** argv);
// gander generate --model PATH --vocab PATH --prompt STR [sampling flags]
int GenerateCommand(int argc, char** argv);
// gander init-random --layers L --embd C --vocab V --seed S --out PATH [--dtype bf16|fp32]
int InitRandomCommand(int argc, char** argv);

}  // namespace gander::cli

#endif  // GANDER_CLI_COMMANDS_H_
