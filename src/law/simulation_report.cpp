#include "acsweep/law/simulation_report.hpp"

#include <cstdio>

namespace acsweep::law {
namespace {

void print_curve(const std::vector<RecallPoint>& curve, const SimulationSpec& spec) {
  std::printf("%8s", "budget");
  for (Sampler s : spec.samplers) std::printf("  %10s@1 %10s@3", to_string(s).c_str(), to_string(s).c_str());
  std::printf("\n");
  for (std::size_t bi = 0; bi < spec.budgets.size(); ++bi) {
    std::printf("%8zu", spec.budgets[bi]);
    for (std::size_t s = 0; s < spec.samplers.size(); ++s) {
      const RecallPoint& p = curve[s * spec.budgets.size() + bi];
      std::printf("  %12.3f %12.3f", p.recall_at_1, p.recall_at_3);
    }
    std::printf("\n");
  }
}

}  // namespace

void print_simulation(const LawTable& table, const SimulationResult& result) {
  const SimulationSpec& spec = result.spec;
  std::printf(
      "AC policy on %s: %zu settings, %zu runs per budget, seed %llu, Law of degree 2 on "
      "(A, C), fitted by %s\n",
      table.source.c_str(), table.size(), spec.runs, static_cast<unsigned long long>(spec.seed),
      spec.fit == FitMethod::ols ? "minimum-norm least squares (ols)"
                                 : "ridge, its strength chosen by leave-one-out (ridge)");
  if (spec.counting == Counting::exact)
    std::printf(
        "Recall@n (exact counting): fraction of runs whose top-n shortlist, fitted on exactly the budget's "
        "finetuned settings, holds the truly best setting\n");
  else
    std::printf(
        "Recall@n (first-hit counting, as the paper's AC_sample.py): fraction of runs whose top-n shortlist "
        "held the truly best setting after some draw up to the budget\n");
  for (const auto& bench : result.benchmarks) {
    std::printf("\n%s (best: %s)\n", bench.benchmark.c_str(), table.settings[bench.best].c_str());
    print_curve(bench.curve, spec);
  }
  std::printf("\naverage over %zu benchmarks\n", result.benchmarks.size());
  print_curve(result.average, spec);
}

}  // namespace acsweep::law
