// acsweep policy TABLE.csv --budget K|all: judge the AC policy on a table of known results.
// Under mpirun the runs are split over the ranks and the hit counts summed, so the numbers are
// the same at any rank count.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "acsweep/cli/commands.hpp"
#include "acsweep/cli/options.hpp"
#include "acsweep/cli/policy_output.hpp"
#include "acsweep/error.hpp"
#include "acsweep/law/policy_simulation.hpp"
#include "acsweep/law/simulation_report.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/store/results_file.hpp"

namespace po = boost::program_options;
using acsweep::store::H5Location;

namespace acsweep::cli {
namespace {

constexpr const char* kUsage =
    "acsweep policy TABLE.csv --budget K|all [--runs R] [--sampler region|random|sequential|both|all] "
    "[--seed S] "
    "[--counting exact|first-hit|both] [--fit ols|ridge] [--benchmarks B1,B2] [--json] [--out results.h5]";

std::vector<std::size_t> parse_budgets(const std::string& text, std::size_t k, const std::string& table) {
  if (text == "all") return law::every_budget(k);
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < 1)
    throw InputError("--budget must be a whole number from 1 or 'all', not '" + text + "'");
  if (static_cast<std::size_t>(value) > k)
    throw InputError("--budget " + text + " is larger than the " + std::to_string(k) + " settings of " +
                     table);
  return {static_cast<std::size_t>(value)};
}

}  // namespace

int run_policy(const std::vector<std::string>& args, const CommandContext& context) {
  po::options_description options("acsweep policy options");
  options.add_options()("budget", po::value<std::string>(), "settings finetuned per run: K or 'all' (1..k)")(
      "runs", po::value<long long>()->default_value(1000), "runs per budget")(
      "sampler", po::value<std::string>()->default_value("both"),
      "region, random, sequential, both (region and random) or all")(
      "fit", po::value<std::string>()->default_value("ols"),
      "ols (the paper's minimum-norm least squares) or ridge (strength by leave-one-out on the finetuned "
      "points)")(
      "counting", po::value<std::string>()->default_value("exact"),
      "exact (a run hits when the fit on its k' finetunes ranks the best in the top n), first-hit (the "
      "paper's: settings drawn one at a time, a run hits by k' when any fit up to k' did), or both")(
      "seed", po::value<long long>()->default_value(0), "seed of every run's random choices")(
      "benchmarks", po::value<std::string>(), "comma-separated benchmark columns")(
      "json", po::bool_switch(), "print one JSON document on stdout")(
      "out", po::value<std::string>(), "write the recall curves to this HDF5 file");
  po::variables_map vm;
  if (!parse_command("policy", kUsage, options, args, vm)) return 0;
  if (!vm.count("budget"))
    throw InputError("acsweep policy: --budget is required\nusage: " + std::string(kUsage));
  if (vm["runs"].as<long long>() < 1) throw InputError("--runs must be at least 1");
  if (vm["seed"].as<long long>() < 0) throw InputError("--seed must not be negative");

  const law::LawTable table = read_table_option(vm);
  law::SimulationSpec spec;
  spec.budgets = parse_budgets(vm["budget"].as<std::string>(), table.size(), table.source);
  spec.runs = static_cast<std::size_t>(vm["runs"].as<long long>());
  spec.seed = static_cast<std::uint64_t>(vm["seed"].as<long long>());
  spec.samplers = law::parse_samplers(vm["sampler"].as<std::string>());
  // LAW.md: both countings reported, labelled; `both` runs the same runs counted either way.
  const std::vector<law::Counting> countings = law::parse_countings(vm["counting"].as<std::string>());
  spec.fit = law::parse_fit_method(vm["fit"].as<std::string>());
  for (const law::Counting c : countings) {
    spec.counting = c;
    law::check_simulation_work(spec, table.size(), table.benchmark_names.size(), table.source);
  }

  std::vector<law::SimulationResult> results;
  for (const law::Counting c : countings) {
    spec.counting = c;
    const law::PolicySimulation simulation(table, spec);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::int64_t> hits = simulation.count_hits(static_cast<std::size_t>(context.mpi.rank()),
                                                           static_cast<std::size_t>(context.mpi.size()));
    if (context.mpi.initialised()) runtime::all_reduce_sum(hits, MPI_COMM_WORLD);
    if (context.mpi.rank() != 0) continue;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    results.push_back(simulation.summarise(hits));
    std::fprintf(
        stderr,
        "acsweep policy: %zu runs x %zu budgets x %zu sampler(s), %s counting, on %d rank(s) in %.3f s\n",
        spec.runs, spec.budgets.size(), spec.samplers.size(), law::to_string(c).c_str(), context.mpi.size(),
        seconds);
  }
  if (context.mpi.rank() != 0) return 0;

  if (vm["json"].as<bool>()) {
    if (results.size() == 1) {
      std::cout << simulation_json(table, results.front()).dump(2) << "\n";
    } else {  // {"countings": {"exact": {...}, "first-hit": {...}}}, each as one counting's document
      nlohmann::ordered_json doc;
      for (const auto& result : results)
        doc["countings"][law::to_string(result.spec.counting)] = simulation_json(table, result);
      std::cout << doc.dump(2) << "\n";
    }
  } else {
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (i > 0) std::printf("\n");
      law::print_simulation(table, results[i]);
    }
  }

  if (vm.count("out")) {
    const std::string out = vm["out"].as<std::string>();
    store::ResultsFile file(out, table, {context.command_line, spec.seed, context.mpi.size()});
    H5Location group = file.replace_group("policy");
    // One counting: policy/simulation. Both: the exact one there, first-hit beside it.
    for (const auto& result : results)
      store::write_policy_simulation(group, table, result,
                                     results.size() > 1 && result.spec.counting == law::Counting::first_hit
                                         ? "simulation_first_hit"
                                         : "simulation");
    file.commit();
    std::cerr << "acsweep policy: wrote the recall curves to " << out << "\n";
  }
  return 0;
}

}  // namespace acsweep::cli
