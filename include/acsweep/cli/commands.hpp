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
int run_version(const std::vector<std::string>& args, const CommandContext& context);

// "B1,B2" -> {"B1", "B2"}; empty items are an InputError naming `option`.
std::vector<std::string> split_list(const std::string& text, const std::string& option);

}  // namespace acsweep::cli
