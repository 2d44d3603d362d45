#pragma once
// Judging a policy on a table of known results (LAW.md, "Judging a policy"): R runs per budget,
// Recall@1 and Recall@3 of the region-sampled AC policy and of random selection.
//
// One run at budget k' draws one sample and evaluates it on every benchmark, as a real sweep
// finetunes a setting once and evaluates it on all benchmarks. Run r of sampler s at budget k'
// draws from derive_seed(seed, {s, k', r}), so any split of the runs over ranks gives the same
// hit counts.
#include <cstdint>
#include <string>
#include <vector>

#include "acsweep/law/fit.hpp"
#include "acsweep/law/table.hpp"

namespace acsweep::law {

enum class Sampler : std::uint64_t { Region = 0, Random = 1 };
std::string to_string(Sampler sampler);
// "region", "random" or "both"; throws InputError on anything else.
std::vector<Sampler> parse_samplers(const std::string& text);

// Budgets 1..k: every budget a table of k settings allows ("--budget all").
std::vector<std::size_t> every_budget(std::size_t k);

struct SimulationSpec {
  std::vector<std::size_t> budgets;  // each in 1..k
  std::size_t runs = 1000;
  std::uint64_t seed = 0;
  std::vector<Sampler> samplers{Sampler::Region, Sampler::Random};
  LawModel model;
};

struct RecallPoint {
  std::size_t budget = 0;
  Sampler sampler = Sampler::Region;
  double recall_at_1 = 0.0;
  double recall_at_3 = 0.0;
};

struct BenchmarkRecall {
  std::string benchmark;
  std::size_t best = 0;  // setting with the highest result (the first, on a tie)
  std::vector<RecallPoint> curve;
};

struct SimulationResult {
  SimulationSpec spec;
  std::vector<BenchmarkRecall> benchmarks;
  std::vector<RecallPoint> average;  // over benchmarks
};

class PolicySimulation {
 public:
  // Throws InputError when a budget is 0 or larger than the table, or runs is 0.
  PolicySimulation(const LawTable& table, SimulationSpec spec);

  // Hit counts of the runs r with r % stride == first, laid out as
  // [sampler][budget][benchmark][n = 1, 3]; sum them over a partition of the runs.
  std::vector<std::int64_t> count_hits(std::size_t first = 0, std::size_t stride = 1) const;

  SimulationResult summarise(const std::vector<std::int64_t>& hits) const;

  const SimulationSpec& spec() const { return spec_; }
  std::size_t hit_count_size() const;

 private:
  const LawTable& table_;
  SimulationSpec spec_;
  std::vector<double> a_, c_;
  std::vector<std::vector<double>> y_;  // [benchmark][setting], normalised over the table
  std::vector<std::size_t> best_;
};

}  // namespace acsweep::law
