// option_error_text against Boost's own what(): the same words wherever Boost's message ends.
#include <gtest/gtest.h>

#include <boost/program_options.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "acsweep/runtime/option_errors.hpp"

namespace acsweep::runtime {
namespace {
namespace po = boost::program_options;

po::options_description declared() {
  po::options_description options;
  options.add_options()("runs", po::value<int>())("run-name", po::value<std::string>())(
      "required", po::value<int>()->required())("flag", po::bool_switch())("job.seed", po::value<int>());
  return options;
}

// The error that parsing these arguments (or this config file) raises, worded by `text`.
template <typename Text>
std::string error_of(const std::vector<std::string>& args, const std::string& file, Text text) {
  try {
    po::variables_map vm;
    if (file.empty()) {
      po::store(po::command_line_parser(args).options(declared()).run(), vm);
    } else {
      std::istringstream lines(file);
      po::store(po::parse_config_file(lines, declared()), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return text(e);
  }
  ADD_FAILURE() << "no error raised";
  return "";
}

std::string ours(const po::error& e) { return option_error_text(e); }
std::string boosts(const po::error& e) { return e.what(); }  // loops forever on placeholders

TEST(OptionErrors, SameWordsAsBoostForOrdinaryInput) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--runs", "seven", "--required", "1"}, ""},  // invalid value
      {{"--nosuch"}, ""},                            // unknown option
      {{"--ru", "1", "--required", "1"}, ""},        // ambiguous: runs or run-name
      {{"--runs"}, ""},                              // a value is required
      {{"--flag=yes", "--required", "1"}, ""},       // a switch takes no value
      {{"--runs", "1"}, ""},                         // a required option missing
      {{}, "[job]\nseed = x\n"},                     // a config file's bad value
      {{}, "[job]\nseed = 1\nseed = 2\n"},           // a key given twice
      {{}, "[job]\njust a line\n"},                  // a line with no '='
  };
  for (const auto& [args, file] : cases) {
    const std::string text = error_of(args, file, ours);
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text, error_of(args, file, boosts)) << (file.empty() ? args.front() : file);
  }
}

TEST(OptionErrors, PlaceholdersInTheInputAreCopiedOnce) {
  EXPECT_EQ(error_of({"--runs", "%value%%canonical_option%", "--required", "1"}, "", ours),
            "the argument ('%value%%canonical_option%') for option '--runs' is invalid");
  EXPECT_EQ(error_of({"--x%original_token%"}, "", ours), "unrecognised option '--x%original_token%'");
  EXPECT_EQ(error_of({}, "[job]\n%invalid_line% %\n", ours),
            "the options configuration file contains an invalid line '%invalid_line% %'");
}

}  // namespace
}  // namespace acsweep::runtime
