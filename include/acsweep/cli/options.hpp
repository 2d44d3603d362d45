#pragma once
// Boost.Program_options glue shared by the subcommands: parse, turn its errors into InputError
// naming the command, and print --help.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "acsweep/law/table.hpp"

namespace acsweep::cli {

// Parses `args` against `options` plus one required positional argument stored as "table"
// (shown as `positional` in messages: TABLE.csv, JOB.ini, RESULTS). Returns false when --help
// was asked for (the help text is already printed on stdout). `then`: more required positional
// arguments after it, each stored under its own name (shown as that name).
bool parse_command(const std::string& command, const std::string& usage,
                   const boost::program_options::options_description& options,
                   const std::vector<std::string>& args, boost::program_options::variables_map& vm,
                   const std::string& positional = "TABLE.csv", const std::vector<std::string>& then = {});

// The TABLE.csv of the command line, restricted to --benchmarks when given.
law::LawTable read_table_option(const boost::program_options::variables_map& vm);

}  // namespace acsweep::cli
