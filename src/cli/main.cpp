// acsweep: pick the best vision representation for a multimodal LLM (shared/spec/LAW.md).
// This executable links no LibTorch: the commands that need no model run here at once, and those
// that do (`run`, `version --runtime`) continue in acsweep-torch, which replaces this process
// before MPI starts (cli/dispatch.hpp).
#include "acsweep/cli/dispatch.hpp"

int main(int argc, char** argv) {
  if (acsweep::cli::needs_torch(argc, argv)) return acsweep::cli::exec_torch_executable(argv);
  return acsweep::cli::run_command_line(argc, argv, acsweep::cli::model_free_commands(),
                                        acsweep::runtime::MpiSession::Start::under_launcher);
}
