#include "acsweep/sweep/simulation_job.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>

#include "acsweep/error.hpp"
#include "acsweep/law/simulation_report.hpp"
#include "acsweep/runtime/content_hash.hpp"
#include "acsweep/store/results_file.hpp"

namespace acsweep::sweep {
namespace {

// The most tasks one job plans: each is a row of every segment and a line of a journal.
constexpr std::size_t kMaxTasks = 1000000;

std::string file_digest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return runtime::ContentHash().add(bytes.str()).hex();
}

std::vector<std::size_t> budgets_of(const std::string& text, std::size_t k, const std::string& job,
                                    const std::string& table) {
  if (text == "all") return law::every_budget(k);
  std::vector<std::size_t> budgets;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    std::size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
    }
    if (value < 1 || static_cast<std::size_t>(value) > k ||
        item.find_first_not_of(" 0123456789") != std::string::npos)
      throw InputError(job + ": [simulation] budgets: '" + item + "' is not a budget from 1 to " +
                       std::to_string(k) + " (the settings of " + table + ")");
    budgets.push_back(static_cast<std::size_t>(value));
  }
  return budgets;
}

}  // namespace

SimulationPlan plan_simulation(const runtime::JobSpec& job) {
  SimulationPlan out;
  std::set<std::string> stems;
  std::size_t n_tasks = 0;
  for (std::size_t t = 0; t < job.simulation->tables.size(); ++t) {
    const std::string& path = job.simulation->tables[t];
    out.tables.push_back(law::read_law_table(path));
    const law::LawTable& table = out.tables.back();
    const std::string stem = std::filesystem::path(path).stem().string();
    if (!stems.insert(stem).second)
      throw InputError(job.path + ": [simulation] tables: two tables are named '" + stem + "'");
    out.table_names.push_back(stem);

    law::SimulationSpec base;
    base.budgets = budgets_of(job.simulation->budgets, table.size(), job.path, path);
    base.runs = static_cast<std::size_t>(job.simulation->runs);
    base.seed = job.seed;
    base.samplers = law::parse_samplers(job.simulation->samplers);
    base.fit = law::parse_fit_method(job.simulation->fit);
    const std::string digest = file_digest(path);
    const auto per_task = static_cast<std::size_t>(job.simulation->runs_per_task);
    for (const law::Counting counting : law::parse_countings(job.simulation->counting)) {
      law::SimulationSpec spec = base;
      spec.counting = counting;
      law::check_simulation_work(spec, table.size(), table.benchmark_names.size(),
                                 job.path + ": [simulation] on " + path);
      const std::size_t entry = out.specs.size();
      out.specs.push_back(spec);
      out.spec_table.push_back(t);
      out.width = std::max(out.width, 2 * table.benchmark_names.size());

      // Every task is planned, journaled and given a row of each segment up front.
      const std::size_t chunks = spec.runs / per_task + (spec.runs % per_task != 0);
      if (chunks > kMaxTasks || n_tasks + chunks * spec.samplers.size() * spec.budgets.size() > kMaxTasks)
        throw InputError(job.path + ": [simulation] runs = " + std::to_string(spec.runs) +
                         " in tasks of runs_per_task = " + std::to_string(per_task) + " make more than " +
                         std::to_string(kMaxTasks) + " tasks: raise runs_per_task");
      for (law::Sampler sampler : spec.samplers)
        for (std::size_t budget : spec.budgets)
          for (std::size_t begin = 0; begin < spec.runs; begin += per_task) {
            const std::size_t end = std::min(spec.runs, begin + per_task);
            runtime::TaskDescriptor task;
            task.index = n_tasks++;
            task.kind = "policy_simulation";
            task.name = stem + (counting == law::Counting::exact ? "" : "/first-hit") + "/" +
                        law::to_string(sampler) + "/k=" + std::to_string(budget) + "/runs " +
                        std::to_string(begin) + "-" + std::to_string(end);
            task.inputs = {{"spec", std::to_string(entry)},      {"table_digest", digest},
                           {"sampler", law::to_string(sampler)}, {"budget", std::to_string(budget)},
                           {"run_begin", std::to_string(begin)}, {"run_end", std::to_string(end)},
                           {"seed", std::to_string(job.seed)},   {"model", law::model_name(spec.model)}};
            // Named only where it is not the default, so exact tasks keep the hashes they had.
            if (spec.counting != law::Counting::exact)
              task.inputs["counting"] = law::to_string(spec.counting);
            if (spec.fit != law::FitMethod::ols) task.inputs["fit"] = law::to_string(spec.fit);
            runtime::ContentHash hash;
            hash.add(task.kind);
            for (const auto& [key, value] : task.inputs)
              if (key != "spec") hash.add(key).add(value);  // the digest, not the position, names the table
            task.hash = hash.hex();
            // Region runs fit the Law once per run (first-hit: once per draw); random runs only draw;
            // sequential runs also fit the Bayesian quadratic and predict its draws once per pick.
            const double fits = spec.counting == law::Counting::exact ? 1.0 : budget / 2.0;
            const double cost = sampler == law::Sampler::Random ? 1.0 : fits * (4.0 + budget);
            task.cost = static_cast<double>(end - begin) *
                        (sampler == law::Sampler::Sequential ? cost + budget * 16.0 : cost);
            out.tasks.push_back(std::move(task));
          }
    }
  }
  return out;
}

void register_simulation_tasks(runtime::TaskRegistry& registry, const SimulationPlan& job) {
  registry.add("policy_simulation", [&job](const runtime::TaskDescriptor& task) {
    const std::size_t e = std::stoul(task.inputs.at("spec")), t = job.spec_table.at(e);
    law::SimulationSpec spec = job.specs.at(e);
    spec.budgets = {std::stoul(task.inputs.at("budget"))};
    spec.samplers = law::parse_samplers(task.inputs.at("sampler"));
    spec.runs = std::stoul(task.inputs.at("run_end"));
    const law::PolicySimulation simulation(job.tables[t], spec);
    const std::vector<std::int64_t> hits = simulation.count_hits(std::stoul(task.inputs.at("run_begin")), 1);
    runtime::TaskResult result;
    result.values.assign(hits.begin(), hits.end());
    return result;
  });
}

namespace {

// Per (table, counting), the recall curves from the values of every task row (all rows must be
// present).
std::vector<law::SimulationResult> summarise_simulation(const SimulationPlan& job, const TaskRows& rows) {
  std::vector<law::SimulationResult> results;
  std::size_t row = 0;
  for (std::size_t e = 0; e < job.specs.size(); ++e) {
    const std::size_t t = job.spec_table[e];
    const law::SimulationSpec& spec = job.specs[e];
    const law::PolicySimulation simulation(job.tables[t], spec);
    std::vector<std::int64_t> hits(simulation.hit_count_size(), 0);
    const std::size_t per_budget = 2 * job.tables[t].benchmark_names.size();
    // Tasks were planned sampler, budget, run range: the same order as the hit layout.
    for (std::size_t block = 0; block < spec.samplers.size() * spec.budgets.size(); ++block) {
      std::size_t covered = 0;  // runs of this (sampler, budget) summed so far
      while (covered < spec.runs) {
        const runtime::TaskDescriptor& task = job.tasks.at(row);
        if (!rows.at(row))
          throw std::logic_error("summarise_simulation: task " + task.name + " has no result");
        for (std::size_t i = 0; i < per_budget; ++i)
          hits[block * per_budget + i] += static_cast<std::int64_t>((*rows[row])[i]);
        covered = std::stoul(task.inputs.at("run_end"));
        ++row;
      }
    }
    results.push_back(simulation.summarise(hits));
  }
  return results;
}

}  // namespace

void write_simulation_summary(store::H5Location& root, const SimulationPlan& job, const TaskRows& rows) {
  const std::vector<law::SimulationResult> results = summarise_simulation(job, rows);
  store::H5Location policy = root.create_group("policy");
  std::optional<store::H5Location> group;
  for (std::size_t e = 0; e < results.size(); ++e) {
    const std::size_t t = job.spec_table[e];
    const bool second = e > 0 && job.spec_table[e - 1] == t;  // first-hit beside exact: counting = both
    if (!second) group.emplace(policy.create_group(job.table_names[t]));
    store::write_policy_simulation(*group, job.tables[t], results[e],
                                   second ? "simulation_first_hit" : "simulation");
    law::print_simulation(job.tables[t], results[e]);
    std::printf("\n");
  }
}

}  // namespace acsweep::sweep
