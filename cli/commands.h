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
// gander serve --model PATH [--vocab PATH] [--listen HOST:PORT] [--data-dir DIR | --store
// HOST:PORT]
//              [--auth-tokens FILE] [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]] [limits]
int ServeCommand(int argc, char** argv);
// gander store-server [--listen HOST:PORT] [--data-dir DIR] [--ready-file PATH]
//                     [--retained-versions K] [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
//                     [--max-message-bytes N] [--metrics-listen HOST:PORT] [--shutdown-grace D]
int StoreServerCommand(int argc, char** argv);
// gander chat (--stream ID | --new [--id ID] | --fork-from ID[@VERSION]) [--prompt TEXT]
//             [--raw] [--max-tokens N] [sampling, --stop, --checkpoint, --codec, client flags]
int ChatCommand(int argc, char** argv);
// gander streams ls|show|fork|rm|export|import [ARGS] [client flags]
int StreamsCommand(int argc, char** argv);
// gander models [client flags]
int ModelsCommand(int argc, char** argv);
// gander demo [--model PATH [--vocab PATH]] [--cache-dir DIR] [--data-dir DIR] [--offline]
//             [--tokens N] [--seed S] [--threads N]
int DemoCommand(int argc, char** argv);

}  // namespace gander::cli

#endif  // GANDER_CLI_COMMANDS_H_
