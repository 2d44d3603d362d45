#pragma once
// Judging a policy on a table of known results (LAW.md, "Judging a policy"): R runs per budget,
// Recall@1 and Recall@3 of the region-sampled AC policy, of the sequential one
// (law/sequential_sampler.hpp) and of random selection.
//
// One run at budget k' draws one sample and evaluates it on every benchmark, as a real sweep
// finetunes a setting once and evaluates it on all benchmarks. Two ways of counting a hit:
//  - exact (the default): run r of sampler s at budget k' draws k' settings from
//    derive_seed(seed, {s, k', r}), fits the Law on them, and hits when the truly best setting is
//    in the top n of the ranking of every setting;
//  - first-hit (the paper's released simulation, AC_sample.py): run r draws one sequence from
//    derive_seed(seed, {s, 0, r}), one setting at a time; after each draw i the Law is fitted on
//    the i drawn (at i = 1 the run hits only if the drawn setting is the best), and the run's value
//    is the first i at which it hits. Recall@n(k') is the share of runs whose first hit is at most
//    k'. Random selection draws until the best setting itself is drawn: P(first hit <= k') = k'/k.
// Either way any split of the runs over ranks gives the same hit counts. The Law is fitted by the
// spec's method (law/fit.hpp: the paper's minimum-norm least squares, or ridge).
#include <cstdint>
#include <string>
#include <vector>

#include "acsweep/law/fit.hpp"
#include "acsweep/law/table.hpp"

namespace acsweep::law {

enum class Sampler : std::uint64_t { Region = 0, Random = 1, Sequential = 2 };
enum class Counting { exact, first_hit };
std::string to_string(Counting counting);  // "exact" or "first-hit"
// "exact" or "first-hit"; throws InputError on anything else.
Counting parse_counting(const std::string& text);
// "exact", "first-hit", or "both" (exact, then first-hit: the same runs counted either way);
// throws InputError on anything else.
std::vector<Counting> parse_countings(const std::string& text);
std::string to_string(Sampler sampler);
// "region", "random", "sequential", "both" (region and random) or "all" (the three); throws
// InputError on anything else.
std::vector<Sampler> parse_samplers(const std::string& text);

// Budgets 1..k: every budget a table of k settings allows ("--budget all").
std::vector<std::size_t> every_budget(std::size_t k);

struct SimulationSpec {
  std::vector<std::size_t> budgets;  // each in 1..k
  std::size_t runs = 1000;
  std::uint64_t seed = 0;
  std::vector<Sampler> samplers{Sampler::Region, Sampler::Random};
  LawModel model;
  Counting counting = Counting::exact;
  FitMethod fit = FitMethod::ols;
};

// First-hit counting of one drawn sequence: for each benchmark (a column of Y, its truly best
// setting best[b]) and each shortlist size, the first i in 1..drawn.size() at which best[b] is in
// the top shortlists[n] of the Law fitted on drawn[0, i) (X: the design matrix of every setting;
// the drawn settings keep their measured values; at i = 1 only drawn[0] == best[b] hits), or
// drawn.size() + 1 when it never is. Laid out [benchmark][shortlist].
std::vector<std::vector<std::size_t>> first_hits(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y,
                                                 const std::vector<std::size_t>& best,
                                                 const std::vector<std::size_t>& drawn,
                                                 const std::vector<std::size_t>& shortlists,
                                                 FitMethod fit = FitMethod::ols);

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

// The work of simulating `spec` on a table of `settings` settings and `benchmarks` benchmarks,
// in setting evaluations (a fit predicts every setting for every benchmark): what makes
// `--budget all` on a large table quadratic in its size.
double simulation_work(const SimulationSpec& spec, std::size_t settings, std::size_t benchmarks);

// What one core evaluates in a second (`acsweep policy --budget all` on 300 settings, see
// docs/PERFORMANCE.md), and the most work a simulation may ask for: about ten core-hours.
constexpr double kSettingEvaluationsPerSecond = 5e7;
constexpr double kMaxSimulationWork = 2e12;

// InputError naming `source`, the work and what to change when simulation_work exceeds
// kMaxSimulationWork.
void check_simulation_work(const SimulationSpec& spec, std::size_t settings, std::size_t benchmarks,
                           const std::string& source);

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
