#include "acsweep/cli/dispatch.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string_view>

#include "acsweep/error.hpp"
#include "acsweep/store/hdf5.hpp"

namespace acsweep::cli {
namespace {

constexpr const char* kUsage =
    "usage: acsweep COMMAND [options]   (acsweep COMMAND --help for its options)\n"
    "  run JOB.ini        run (or continue) a job on every MPI rank; --dry-run prints the plan\n"
    "  inspect RESULTS    what a results directory holds: done, failed, pending tasks\n"
    "  law TABLE.csv      fit the Law (benchmark ~ quadratic in A and C) on a table\n"
    "  policy TABLE.csv   judge the AC policy: Recall@1/@3 against random selection\n"
    "  score KIND:PATH PREDICTIONS.jsonl   rescore saved predictions with the benchmark's metric\n"
    "  tokenize FOLDER TEXT...   the ids and pieces of each text under the model's tokenizer\n"
    "  version            what this build links; --runtime: what LibTorch finds at run time\n";

constexpr const char* kTorchExecutable = "acsweep-torch";

std::string quote_for_shell(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\"'\\$") == std::string::npos) return arg;
  std::string out = "'";
  for (char ch : arg) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

}  // namespace

std::vector<Command> model_free_commands() {
  return {{"inspect", run_inspect}, {"law", run_law},           {"policy", run_policy},
          {"score", run_score},     {"tokenize", run_tokenize}, {"version", run_version}};
}

int run_command_line(int argc, char** argv, const std::vector<Command>& commands,
                     runtime::MpiSession::Start start) {
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + quote_for_shell(argv[i]);

  runtime::MpiSession mpi(argc, argv, start);
  if (argc < 2) {
    if (mpi.rank() == 0) std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = std::string_view(argv[1]) == "--version" ? "version" : argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  const CommandContext context{mpi, command_line};
  try {
    if (command == "--help" || command == "-h" || command == "help") {
      if (mpi.rank() == 0) std::fputs(kUsage, stdout);
      return 0;
    }
    for (const Command& known : commands)
      if (known.name == command) return known.run(args, context);
    throw InputError("unknown command '" + command + "'\n" + kUsage);
  } catch (const InputError& e) {
    // Every rank reads the same input and fails alike: one message is enough.
    if (mpi.rank() == 0) std::fprintf(stderr, "acsweep: error: %s\n", e.what());
    return 2;
  } catch (const store::StoreError& e) {
    // A results file whose write failed (a full disk or quota) is one HDF5 cannot close again: its
    // own clean-up at MPI_Finalize would crash on it. End without that; what was journaled and
    // synced is on disk, and the rerun resumes from it.
    std::fprintf(stderr, "acsweep: rank %d: error: %s\n", mpi.rank(), e.what());
    std::fflush(nullptr);
    if (mpi.size() > 1) mpi.abort(1);
    std::_Exit(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "acsweep: rank %d: error: %s\n", mpi.rank(), e.what());
    if (mpi.size() > 1) mpi.abort(1);  // the other ranks may be waiting in a collective
    return 1;
  }
}

bool needs_torch(int argc, char** argv) {
  if (argc < 2) return false;
  const std::string_view command = argv[1];
  if (command == "run") return true;
  if (command != "version") return false;
  for (int i = 2; i < argc; ++i)
    if (std::string_view(argv[i]) == "--runtime") return true;
  return false;
}

int exec_torch_executable(char** argv) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) {
    std::fprintf(stderr, "acsweep: error: cannot find this executable's folder (/proc/self/exe: %s)\n",
                 error.message().c_str());
    return 1;
  }
  const std::string torch = (self.parent_path() / kTorchExecutable).string();
  execv(torch.c_str(), argv);  // returns only on failure
  const int code = errno;
  std::fprintf(stderr,
               "acsweep: error: cannot start %s (%s); it does `%s`, which needs LibTorch: build the "
               "target acsweep-torch beside acsweep\n",
               torch.c_str(), std::strerror(code), argv[1]);
  return 1;
}

}  // namespace acsweep::cli
