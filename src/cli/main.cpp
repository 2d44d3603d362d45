// acsweep: pick the best vision representation for a multimodal LLM (shared/spec/LAW.md).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "acsweep/cli/commands.hpp"
#include "acsweep/error.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "acsweep/runtime/mpi.hpp"

namespace {

constexpr const char* kUsage =
    "usage: acsweep COMMAND [options]   (acsweep COMMAND --help for its options)\n"
    "  run JOB.ini        run (or continue) a job on every MPI rank; --dry-run prints the plan\n"
    "  inspect RESULTS    what a results directory holds: done, failed, pending tasks\n"
    "  law TABLE.csv      fit the Law (benchmark ~ quadratic in A and C) on a table\n"
    "  policy TABLE.csv   judge the AC policy: Recall@1/@3 against random selection\n"
    "  version            what this build links and finds at run time\n";

std::string quote_for_shell(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\"'\\$") == std::string::npos) return arg;
  std::string out = "'";
  for (char ch : arg) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

}  // namespace

int main(int argc, char** argv) {
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + quote_for_shell(argv[i]);

  acsweep::models::keep_tensor_memory_for_reuse();
  acsweep::runtime::MpiSession mpi(argc, argv);
  if (argc < 2) {
    if (mpi.rank() == 0) std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  const acsweep::cli::CommandContext context{mpi, command_line};
  try {
    if (command == "run") return acsweep::cli::run_run(args, context);
    if (command == "inspect") return acsweep::cli::run_inspect(args, context);
    if (command == "law") return acsweep::cli::run_law(args, context);
    if (command == "policy") return acsweep::cli::run_policy(args, context);
    if (command == "version" || command == "--version") return acsweep::cli::run_version(args, context);
    if (command == "--help" || command == "-h" || command == "help") {
      if (mpi.rank() == 0) std::fputs(kUsage, stdout);
      return 0;
    }
    throw acsweep::InputError("unknown command '" + command + "'\n" + kUsage);
  } catch (const acsweep::InputError& e) {
    // Every rank reads the same input and fails alike: one message is enough.
    if (mpi.rank() == 0) std::fprintf(stderr, "acsweep: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "acsweep: rank %d: error: %s\n", mpi.rank(), e.what());
    if (mpi.size() > 1) mpi.abort(1);  // the other ranks may be waiting in a collective
    return 1;
  }
}
