#include "acsweep/law/policy_simulation.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <stdexcept>

#include "acsweep/error.hpp"
#include "acsweep/law/ac_policy.hpp"
#include "acsweep/law/region_sampler.hpp"
#include "acsweep/law/seeded_rng.hpp"
#include "acsweep/law/sequential_sampler.hpp"
#include "acsweep/law/table_fit.hpp"

namespace acsweep::law {
namespace {

constexpr std::size_t kShortlists[] = {1, 3};

// The exact counting's seed streams are {sampler, budget >= 1, run}; first-hit's are {sampler, 0, run}.
constexpr std::uint64_t kFirstHitStream = 0;

// Every setting's score once the Law is fitted on drawn[0, n): its prediction, or its measured
// value where it was drawn; [setting, benchmark]. One decomposition of the drawn rows solves all
// benchmarks' fits (ACPolicy::rank does the same per benchmark; tests hold them equal).
Eigen::MatrixXd scores_after(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y,
                             const std::vector<std::size_t>& drawn, std::size_t n, FitMethod fit) {
  Eigen::MatrixXd Xs(n, X.cols()), Ys(n, Y.cols());
  for (std::size_t j = 0; j < n; ++j) {
    Xs.row(static_cast<Eigen::Index>(j)) = X.row(static_cast<Eigen::Index>(drawn[j]));
    Ys.row(static_cast<Eigen::Index>(j)) = Y.row(static_cast<Eigen::Index>(drawn[j]));
  }
  Eigen::MatrixXd score = X * fit_coefficients(fit, Xs, Ys);
  for (std::size_t j = 0; j < n; ++j)
    score.row(static_cast<Eigen::Index>(drawn[j])) = Ys.row(static_cast<Eigen::Index>(j));
  return score;
}

}  // namespace

std::string to_string(Counting counting) { return counting == Counting::exact ? "exact" : "first-hit"; }

Counting parse_counting(const std::string& text) {
  if (text == "exact") return Counting::exact;
  if (text == "first-hit") return Counting::first_hit;
  throw InputError("--counting must be exact or first-hit, not '" + text + "'");
}

std::vector<Counting> parse_countings(const std::string& text) {
  if (text == "both") return {Counting::exact, Counting::first_hit};
  if (text != "exact" && text != "first-hit")
    throw InputError("--counting must be exact, first-hit or both, not '" + text + "'");
  return {parse_counting(text)};
}

std::vector<std::vector<std::size_t>> first_hits(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y,
                                                 const std::vector<std::size_t>& best,
                                                 const std::vector<std::size_t>& drawn,
                                                 const std::vector<std::size_t>& shortlists, FitMethod fit) {
  const auto k = static_cast<std::size_t>(X.rows());
  const std::size_t n_bench = best.size(), never = drawn.size() + 1;
  std::vector<std::vector<std::size_t>> first(n_bench, std::vector<std::size_t>(shortlists.size(), never));
  std::size_t open = n_bench * shortlists.size();
  for (std::size_t b = 0; b < n_bench && !drawn.empty(); ++b)
    if (drawn[0] == best[b]) {  // i = 1: one point fits no Law; only the best itself hits
      for (auto& f : first[b]) f = 1;
      open -= shortlists.size();
    }
  for (std::size_t i = 2; i <= drawn.size() && open > 0; ++i) {
    const Eigen::MatrixXd score = scores_after(X, Y, drawn, i, fit);
    for (std::size_t b = 0; b < n_bench; ++b) {
      const std::size_t position = rank_of(score.col(static_cast<Eigen::Index>(b)).data(), k, best[b]);
      for (std::size_t n = 0; n < shortlists.size(); ++n)
        if (first[b][n] == never && position < shortlists[n]) {
          first[b][n] = i;
          --open;
        }
    }
  }
  return first;
}

std::vector<std::size_t> every_budget(std::size_t k) {
  std::vector<std::size_t> budgets(k);
  std::iota(budgets.begin(), budgets.end(), std::size_t{1});
  return budgets;
}

std::string to_string(Sampler sampler) {
  switch (sampler) {
    case Sampler::Region:
      return "region";
    case Sampler::Random:
      return "random";
    case Sampler::Sequential:
      return "sequential";
  }
  throw std::invalid_argument("unknown sampler");
}

std::vector<Sampler> parse_samplers(const std::string& text) {
  if (text == "region") return {Sampler::Region};
  if (text == "random") return {Sampler::Random};
  if (text == "sequential") return {Sampler::Sequential};
  if (text == "both") return {Sampler::Region, Sampler::Random};
  if (text == "all") return {Sampler::Region, Sampler::Random, Sampler::Sequential};
  throw InputError("--sampler must be region, random, sequential, both or all, not '" + text + "'");
}

double simulation_work(const SimulationSpec& spec, std::size_t settings, std::size_t benchmarks) {
  const auto k = static_cast<double>(settings);
  // A fit predicts every setting; a sequential pick predicts every setting in each posterior draw.
  const double pick = static_cast<double>(SequentialSampler::kDraws) * k;
  double fitted = 0, picked = 0;  // per run of the AC policy; random selection only draws
  if (spec.counting == Counting::exact) {
    for (const std::size_t budget : spec.budgets) {
      fitted += k + static_cast<double>(budget);
      picked += static_cast<double>(budget) * pick;
    }
  } else {  // one fit per draw of the longest sequence
    const auto longest = static_cast<double>(*std::max_element(spec.budgets.begin(), spec.budgets.end()));
    fitted = longest * k + longest * longest / 2;
    picked = longest * pick;
  }
  double per_run = 0;
  for (const Sampler sampler : spec.samplers)
    per_run += sampler == Sampler::Sequential ? fitted + picked : fitted;
  return per_run * static_cast<double>(spec.runs) * static_cast<double>(std::max<std::size_t>(benchmarks, 1));
}

void check_simulation_work(const SimulationSpec& spec, std::size_t settings, std::size_t benchmarks,
                           const std::string& source) {
  if (spec.budgets.empty()) return;
  const double work = simulation_work(spec, settings, benchmarks);
  if (work <= kMaxSimulationWork) return;
  char text[400];
  std::snprintf(
      text, sizeof text,
      ": %zu budget(s) up to %zu of %zu settings, %zu runs, %zu sampler(s) and %zu benchmark(s) are "
      "about %.1e setting evaluations (at %.0e a second per core, %.0f core-hours): give fewer "
      "budgets (e.g. 1,2,4,8,16), fewer runs or fewer benchmarks",
      spec.budgets.size(), *std::max_element(spec.budgets.begin(), spec.budgets.end()), settings, spec.runs,
      spec.samplers.size(), benchmarks, work, kSettingEvaluationsPerSecond,
      work / kSettingEvaluationsPerSecond / 3600);
  throw InputError(source + text);
}

PolicySimulation::PolicySimulation(const LawTable& table, SimulationSpec spec)
    : table_(table), spec_(std::move(spec)) {
  if (spec_.runs == 0) throw InputError("--runs must be at least 1");
  if (spec_.budgets.empty()) throw InputError("no budget to simulate");
  if (spec_.samplers.empty()) throw InputError("no sampler to simulate");
  for (std::size_t k : spec_.budgets)
    if (k == 0 || k > table.size())
      throw InputError(table.source + ": budget " + std::to_string(k) + " is outside 1.." +
                       std::to_string(table.size()) + " (the table has " + std::to_string(table.size()) +
                       " settings)");
  NormalisedTable normalised = normalise_table(table);
  a_ = std::move(normalised.a);
  c_ = std::move(normalised.c);
  y_ = std::move(normalised.y);
  for (const auto& y : y_)
    best_.push_back(static_cast<std::size_t>(std::max_element(y.begin(), y.end()) - y.begin()));
}

std::size_t PolicySimulation::hit_count_size() const {
  return spec_.samplers.size() * spec_.budgets.size() * y_.size() * std::size(kShortlists);
}

std::vector<std::int64_t> PolicySimulation::count_hits(std::size_t first, std::size_t stride) const {
  const std::size_t k = a_.size(), n_bench = y_.size();
  std::vector<std::int64_t> hits(hit_count_size(), 0);
  auto slot = [&](std::size_t s, std::size_t bi, std::size_t b, std::size_t n) {
    return ((s * spec_.budgets.size() + bi) * n_bench + b) * std::size(kShortlists) + n;
  };

  const Eigen::MatrixXd X = design_matrix(spec_.model, a_, c_);
  Eigen::MatrixXd Y(k, n_bench);
  for (std::size_t b = 0; b < n_bench; ++b)
    for (std::size_t i = 0; i < k; ++i) Y(i, b) = y_[b][i];
  const RegionSampler sampler(a_, c_);
  const SequentialSampler sequential(X, sampler);
  // The settings the AC policy finetunes in one run: region-sampled, or picked one at a time.
  auto draw = [&](Sampler which, std::size_t budget, SeededRng& rng) {
    return which == Sampler::Sequential ? sequential.sample(budget, Y, rng) : sampler.sample(budget, rng);
  };
  std::vector<std::size_t> order(k);

  if (spec_.counting == Counting::first_hit) {
    // One sequence per run, as long as the largest budget; every budget counts its prefix.
    const std::size_t longest = *std::max_element(spec_.budgets.begin(), spec_.budgets.end());
    const std::vector<std::size_t> shortlists(std::begin(kShortlists), std::end(kShortlists));
    for (std::size_t s = 0; s < spec_.samplers.size(); ++s) {
      const Sampler which = spec_.samplers[s];
      for (std::size_t run = first; run < spec_.runs; run += stride) {
        SeededRng rng(derive_seed(spec_.seed, {static_cast<std::uint64_t>(which), kFirstHitStream, run}));
        std::vector<std::vector<std::size_t>> hit_at;
        if (which == Sampler::Random) {
          // Random selection shortlists the best of the drawn settings: it hits once it draws the best.
          std::iota(order.begin(), order.end(), std::size_t{0});
          for (std::size_t i = 0; i < longest; ++i) std::swap(order[i], order[i + rng.below(k - i)]);
          for (std::size_t b = 0; b < n_bench; ++b) {
            const auto at = static_cast<std::size_t>(
                std::find(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(longest), best_[b]) -
                order.begin());
            hit_at.emplace_back(shortlists.size(), at + 1);  // longest + 1: never within the budgets
          }
        } else {
          hit_at = first_hits(X, Y, best_, draw(which, longest, rng), shortlists, spec_.fit);
        }
        for (std::size_t bi = 0; bi < spec_.budgets.size(); ++bi)
          for (std::size_t b = 0; b < n_bench; ++b)
            for (std::size_t n = 0; n < shortlists.size(); ++n)
              hits[slot(s, bi, b, n)] += hit_at[b][n] <= spec_.budgets[bi];
      }
    }
    return hits;
  }

  for (std::size_t s = 0; s < spec_.samplers.size(); ++s) {
    const Sampler which = spec_.samplers[s];
    for (std::size_t bi = 0; bi < spec_.budgets.size(); ++bi) {
      const std::size_t budget = spec_.budgets[bi];
      for (std::size_t run = first; run < spec_.runs; run += stride) {
        SeededRng rng(derive_seed(spec_.seed, {static_cast<std::uint64_t>(which), budget, run}));
        if (which == Sampler::Random) {
          // Random selection shortlists the best of the finetuned settings, so the truly best
          // setting is in every shortlist exactly when it was finetuned.
          std::iota(order.begin(), order.end(), std::size_t{0});
          for (std::size_t i = 0; i < budget; ++i) std::swap(order[i], order[i + rng.below(k - i)]);
          for (std::size_t b = 0; b < n_bench; ++b) {
            const bool finetuned =
                std::find(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(budget), best_[b]) !=
                order.begin() + static_cast<std::ptrdiff_t>(budget);
            for (std::size_t n = 0; n < std::size(kShortlists); ++n) hits[slot(s, bi, b, n)] += finetuned;
          }
          continue;
        }
        // The AC policy, every benchmark at once.
        const Eigen::MatrixXd score = scores_after(X, Y, draw(which, budget, rng), budget, spec_.fit);
        for (std::size_t b = 0; b < n_bench; ++b) {
          const std::size_t position = rank_of(score.col(b).data(), k, best_[b]);
          for (std::size_t n = 0; n < std::size(kShortlists); ++n)
            hits[slot(s, bi, b, n)] += position < kShortlists[n];
        }
      }
    }
  }
  return hits;
}

SimulationResult PolicySimulation::summarise(const std::vector<std::int64_t>& hits) const {
  const std::size_t n_bench = y_.size();
  const double runs = static_cast<double>(spec_.runs);
  SimulationResult result;
  result.spec = spec_;
  for (std::size_t b = 0; b < n_bench; ++b)
    result.benchmarks.push_back({table_.benchmark_names[b], best_[b], {}});
  std::size_t at = 0;
  for (Sampler which : spec_.samplers)
    for (std::size_t budget : spec_.budgets) {
      RecallPoint mean{budget, which, 0.0, 0.0};
      for (std::size_t b = 0; b < n_bench; ++b, at += 2) {
        const RecallPoint point{budget, which, static_cast<double>(hits[at]) / runs,
                                static_cast<double>(hits[at + 1]) / runs};
        result.benchmarks[b].curve.push_back(point);
        mean.recall_at_1 += point.recall_at_1 / static_cast<double>(n_bench);
        mean.recall_at_3 += point.recall_at_3 / static_cast<double>(n_bench);
      }
      result.average.push_back(mean);
    }
  return result;
}

}  // namespace acsweep::law
