#include "acsweep/cli/options.hpp"

#include <iostream>

#include "acsweep/cli/commands.hpp"
#include "acsweep/error.hpp"
#include "acsweep/runtime/option_errors.hpp"

namespace po = boost::program_options;

namespace acsweep::cli {

std::vector<std::string> split_list(const std::string& text, const std::string& option) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) throw InputError(option + ": empty name in '" + text + "'");
    items.push_back(item);
    if (comma == std::string::npos) return items;
    start = comma + 1;
  }
}

bool parse_command(const std::string& command, const std::string& usage,
                   const po::options_description& options, const std::vector<std::string>& args,
                   po::variables_map& vm, const std::string& positional_name,
                   const std::vector<std::string>& then) {
  po::options_description all;
  all.add(options).add_options()("help,h", "show this help")("table", po::value<std::string>(),
                                                             positional_name.c_str());
  po::positional_options_description positional;
  positional.add("table", 1);
  for (const auto& name : then) {
    all.add_options()(name.c_str(), po::value<std::string>(), name.c_str());
    positional.add(name.c_str(), 1);
  }
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError("acsweep " + command + ": " + runtime::option_error_text(e) + "\nusage: " + usage);
  }
  if (vm.count("help")) {
    std::cout << "usage: " << usage << "\n\n" << options << "\n";
    return false;
  }
  if (!vm.count("table"))
    throw InputError("acsweep " + command + ": no " + positional_name + " given\nusage: " + usage);
  for (const auto& name : then)
    if (!vm.count(name)) throw InputError("acsweep " + command + ": no " + name + " given\nusage: " + usage);
  return true;
}

law::LawTable read_table_option(const po::variables_map& vm) {
  return law::read_law_table(vm["table"].as<std::string>(),
                             vm.count("benchmarks")
                                 ? split_list(vm["benchmarks"].as<std::string>(), "--benchmarks")
                                 : std::vector<std::string>{});
}

}  // namespace acsweep::cli
