#pragma once
// Boost.Program_options glue shared by the subcommands: parse, turn its errors into InputError
// naming the command, and print --help.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "acsweep/law/table.hpp"

namespace acsweep::cli {

// Parses `args` against `options` (+ one positional TABLE). Returns false when --help was asked
// for (the help text is already printed on stdout).
bool parse_command(const std::string& command, const std::string& usage,
                   const boost::program_options::options_description& options,
                   const std::vector<std::string>& args, boost::program_options::variables_map& vm);

// The TABLE.csv of the command line, restricted to --benchmarks when given.
law::LawTable read_table_option(const boost::program_options::variables_map& vm);

}  // namespace acsweep::cli
