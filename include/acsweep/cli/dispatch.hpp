#pragma once
// The entry point that both executables share. `acsweep` holds the commands that need no model and
// links no LibTorch, so `law`, `policy`, `inspect` and `version` start in milliseconds; it hands
// `run` and `version --runtime` to `acsweep-torch` (beside it in the same folder) by exec, in the
// same process, so mpirun, srun and signals see one program. acsweep-torch runs every command.
#include <string>
#include <vector>

#include "acsweep/cli/commands.hpp"
#include "acsweep/runtime/mpi.hpp"

namespace acsweep::cli {

using CommandFunction = int (*)(const std::vector<std::string>& args, const CommandContext& context);

struct Command {
  std::string name;
  CommandFunction run = nullptr;
};

// inspect, law, policy, and version as the build knows it (no LibTorch loaded).
std::vector<Command> model_free_commands();

// Runs argv[1] from `commands` in an MPI session started as `start`: prints the usage, turns an
// InputError into exit 2 (one message from rank 0) and any other failure into exit 1, aborting the
// other ranks, which may be waiting in a collective.
int run_command_line(int argc, char** argv, const std::vector<Command>& commands,
                     runtime::MpiSession::Start start);

// True when the command line needs LibTorch: `run`, and `version --runtime`.
bool needs_torch(int argc, char** argv);

// Replaces this process by acsweep-torch from this executable's folder, with the same arguments.
// Returns only when that fails, with exit code 1, having said why on stderr (naming the path).
int exec_torch_executable(char** argv);

}  // namespace acsweep::cli
