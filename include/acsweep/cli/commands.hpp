#pragma once
// The subcommands of the acsweep executable. Each returns its exit code; bad input throws
// InputError (exit 2). stdout carries results (one JSON document with --json), stderr the rest.
#include <string>
#include <vector>

namespace acsweep::runtime {
class MpiSession;
}

namespace acsweep::cli {

struct CommandContext {
  const runtime::MpiSession& mpi;
  std::string command_line;  // as typed, recorded in results files
};

int run_run(const std::vector<std::string>& args, const CommandContext& context);
int run_inspect(const std::vector<std::string>& args, const CommandContext& context);
int run_law(const std::vector<std::string>& args, const CommandContext& context);
int run_policy(const std::vector<std::string>& args, const CommandContext& context);
int run_score(const std::vector<std::string>& args, const CommandContext& context);
int run_tokenize(const std::vector<std::string>& args, const CommandContext& context);
// `version` in acsweep prints what the build linked, LibTorch's version as the build saw it;
// `version_runtime` (acsweep-torch, `acsweep version --runtime`) loads LibTorch and reports what it
// finds: intra-op threads, CUDA devices, and the NCCL that is loaded.
int run_version(const std::vector<std::string>& args, const CommandContext& context);
int run_version_runtime(const std::vector<std::string>& args, const CommandContext& context);
// What both print first: acsweep, MPI (with the world's size), HDF5. False (after printing
// nothing) on ranks other than 0; throws InputError on arguments other than --runtime.
bool print_common_versions(const std::vector<std::string>& args, const CommandContext& context);

// "B1,B2" -> {"B1", "B2"}; empty items are an InputError naming `option`.
std::vector<std::string> split_list(const std::string& text, const std::string& option);

}  // namespace acsweep::cli
