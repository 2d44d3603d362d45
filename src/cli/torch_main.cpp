// acsweep-torch: every acsweep command, with LibTorch linked: `acsweep run` and
// `acsweep version --runtime` continue here (cli/dispatch.hpp).
#include "acsweep/cli/dispatch.hpp"
#include "acsweep/models/torch_runtime.hpp"

int main(int argc, char** argv) {
  acsweep::models::keep_tensor_memory_for_reuse();
  std::vector<acsweep::cli::Command> commands = acsweep::cli::model_free_commands();
  for (acsweep::cli::Command& command : commands)
    if (command.name == "version") command.run = acsweep::cli::run_version_runtime;
  commands.push_back({"run", acsweep::cli::run_run});
  return acsweep::cli::run_command_line(argc, argv, commands, acsweep::runtime::MpiSession::Start::always);
}
