#include "acsweep/cli/policy_output.hpp"

#include <cstdio>

namespace acsweep::cli {
namespace {

nlohmann::ordered_json to_json(const law::RecallPoint& point) {
  return {{"budget", point.budget},
          {"sampler", law::to_string(point.sampler)},
          {"recall_at_1", point.recall_at_1},
          {"recall_at_3", point.recall_at_3}};
}

void print_curve(const std::vector<law::RecallPoint>& curve, const law::SimulationSpec& spec) {
  std::printf("%8s", "budget");
  for (law::Sampler s : spec.samplers)
    std::printf("  %8s@1 %8s@3", law::to_string(s).c_str(), law::to_string(s).c_str());
  std::printf("\n");
  for (std::size_t bi = 0; bi < spec.budgets.size(); ++bi) {
    std::printf("%8zu", spec.budgets[bi]);
    for (std::size_t s = 0; s < spec.samplers.size(); ++s) {
      const law::RecallPoint& p = curve[s * spec.budgets.size() + bi];
      std::printf("  %10.3f %10.3f", p.recall_at_1, p.recall_at_3);
    }
    std::printf("\n");
  }
}

}  // namespace

nlohmann::ordered_json simulation_json(const law::LawTable& table, const law::SimulationResult& result) {
  const law::SimulationSpec& spec = result.spec;
  nlohmann::ordered_json doc;
  doc["runs"] = spec.runs;
  doc["seed"] = spec.seed;
  doc["benchmarks"] = nlohmann::ordered_json::object();
  for (const auto& bench : result.benchmarks) {
    nlohmann::ordered_json curve = nlohmann::ordered_json::array();
    for (const auto& point : bench.curve) curve.push_back(to_json(point));
    doc["benchmarks"][bench.benchmark] = {{"best", table.settings[bench.best]}, {"curve", curve}};
  }
  doc["average"] = nlohmann::ordered_json::array();
  for (const auto& point : result.average) doc["average"].push_back(to_json(point));
  return doc;
}

void print_simulation(const law::LawTable& table, const law::SimulationResult& result) {
  const law::SimulationSpec& spec = result.spec;
  std::printf(
      "AC policy on %s: %zu settings, %zu runs per budget, seed %llu, Law of degree 2 on "
      "(A, C)\nRecall@n: fraction of runs whose top-n shortlist holds the truly best setting\n",
      table.source.c_str(), table.size(), spec.runs, static_cast<unsigned long long>(spec.seed));
  for (const auto& bench : result.benchmarks) {
    std::printf("\n%s (best: %s)\n", bench.benchmark.c_str(), table.settings[bench.best].c_str());
    print_curve(bench.curve, spec);
  }
  std::printf("\naverage over %zu benchmarks\n", result.benchmarks.size());
  print_curve(result.average, spec);
}

}  // namespace acsweep::cli
