#include "acsweep/runtime/job_file.hpp"

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "acsweep/error.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace acsweep::runtime {
namespace {

// "section.key" -> "[section] key", the way a reader finds it in the file.
std::string where(const std::string& path, const std::string& dotted) {
  const auto dot = dotted.find('.');
  if (dot == std::string::npos) return path + ": key '" + dotted + "'";
  return path + ": [" + dotted.substr(0, dot) + "] " + dotted.substr(dot + 1);
}

po::options_description schema() {
  po::options_description d("job file keys");
  d.add_options()
      // [job]
      ("job.name", po::value<std::string>(), "name of the job; a results directory belongs to one job")(
          "job.output", po::value<std::string>()->default_value("results"), "results directory")(
          "job.seed", po::value<std::int64_t>()->default_value(0), "seed of every random choice")(
          "job.max_attempts", po::value<int>()->default_value(3), "tries of a failing task")
      // [layout]
      ("layout.groups", po::value<int>(), "worker groups (G)")("layout.group_size", po::value<int>(),
                                                               "ranks per worker group (S)")
      // [simulation]
      ("simulation.tables", po::value<std::string>(), "comma-separated tables (CSV) to judge the policy on")(
          "simulation.budgets", po::value<std::string>()->default_value("all"), "'all' or a comma list")(
          "simulation.runs", po::value<std::int64_t>()->default_value(1000), "runs per budget")(
          "simulation.runs_per_task", po::value<std::int64_t>()->default_value(100), "runs in one task")(
          "simulation.samplers", po::value<std::string>()->default_value("both"), "region, random or both");
  return d;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    out.push_back(b == std::string::npos ? "" : item.substr(b, e - b + 1));
  }
  return out;
}

template <class T>
T value_of(const po::variables_map& vm, const std::string& key) {
  return vm[key].as<T>();
}

}  // namespace

JobSpec read_job(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the job file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  JobSpec job;
  job.path = fs::absolute(path).lexically_normal().string();
  job.text = buffer.str();
  const fs::path base = fs::path(job.path).parent_path();
  auto resolve = [&](const std::string& p) { return (base / p).lexically_normal().string(); };

  const po::options_description keys = schema();
  po::variables_map vm;
  try {
    // Overrides first: po::store keeps the first value it sees for a key.
    std::vector<std::string> args;
    std::map<std::string, std::size_t> position;  // a key set twice: the last --set wins
    for (const auto& set : overrides) {
      const auto eq = set.find('=');
      if (eq == std::string::npos || eq == 0)
        throw InputError("--set '" + set + "': expected section.key=value");
      const auto [it, fresh] = position.emplace(set.substr(0, eq), args.size());
      if (fresh)
        args.push_back("--" + set);
      else
        args[it->second] = "--" + set;
      job.text += "\n# --set " + set;
    }
    po::store(po::command_line_parser(args).options(keys).run(), vm);
    std::istringstream file_text(buffer.str());
    po::store(po::parse_config_file(file_text, keys, false), vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    std::string key = e.get_option_name();
    if (key.rfind("--", 0) == 0) key = key.substr(2);
    key = key.substr(0, key.find('='));  // a --set override comes with its value attached
    throw InputError(where(path, key) + ": unknown key (acsweep run --help lists the keys)");
  } catch (const po::invalid_option_value& e) {
    std::string key = e.get_option_name();
    if (key.rfind("--", 0) == 0) key = key.substr(2);
    throw InputError(where(path, key) + ": " + e.what());
  } catch (const po::error& e) {
    throw InputError(path + ": " + e.what());
  }

  auto require = [&](bool ok, const std::string& key, const std::string& why) {
    if (!ok) throw InputError(where(path, key) + ": " + why);
  };
  require(vm.count("job.name") && !value_of<std::string>(vm, "job.name").empty(), "job.name",
          "missing: every job needs a name");
  job.name = value_of<std::string>(vm, "job.name");
  job.output = resolve(value_of<std::string>(vm, "job.output"));
  const auto seed = value_of<std::int64_t>(vm, "job.seed");
  require(seed >= 0, "job.seed", "must not be negative");
  job.seed = static_cast<std::uint64_t>(seed);
  job.max_attempts = value_of<int>(vm, "job.max_attempts");
  require(job.max_attempts >= 1, "job.max_attempts", "must be at least 1");

  if (vm.count("layout.groups") || vm.count("layout.group_size")) {
    require(vm.count("layout.groups") && vm.count("layout.group_size"), "layout",
            "give both groups and group_size, or neither for the default");
    job.layout = Layout{value_of<int>(vm, "layout.groups"), value_of<int>(vm, "layout.group_size")};
    require(job.layout->groups >= 0, "layout.groups", "must not be negative");
    require(job.layout->group_size >= 1, "layout.group_size", "must be at least 1");
  }

  SimulationSection& sim = job.simulation;
  require(vm.count("simulation.tables"), "simulation.tables", "missing: the tables to simulate on");
  for (const auto& table : split_commas(value_of<std::string>(vm, "simulation.tables"))) {
    require(!table.empty(), "simulation.tables", "empty name in the list");
    const std::string resolved = resolve(table);
    require(fs::is_regular_file(resolved), "simulation.tables", "no such file: " + resolved);
    sim.tables.push_back(resolved);
  }
  sim.budgets = value_of<std::string>(vm, "simulation.budgets");
  sim.runs = value_of<std::int64_t>(vm, "simulation.runs");
  require(sim.runs >= 1, "simulation.runs", "must be at least 1");
  sim.runs_per_task = value_of<std::int64_t>(vm, "simulation.runs_per_task");
  require(sim.runs_per_task >= 1, "simulation.runs_per_task", "must be at least 1");
  sim.samplers = value_of<std::string>(vm, "simulation.samplers");
  require(sim.samplers == "region" || sim.samplers == "random" || sim.samplers == "both",
          "simulation.samplers", "must be region, random or both, not '" + sim.samplers + "'");
  return job;
}

std::string job_keys_help() {
  std::ostringstream out;
  out << schema();
  return out.str();
}

}  // namespace acsweep::runtime
