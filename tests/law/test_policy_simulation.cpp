// The policy simulation against a slow, obvious replay with ACPolicy, against the random
// baseline's exact expectation, and under any split of its runs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numeric>

#include "acsweep/error.hpp"
#include "acsweep/law/ac_policy.hpp"
#include "acsweep/law/policy_simulation.hpp"
#include "acsweep/law/table_fit.hpp"

#ifndef ACSWEEP_PAPER_TABLE
#error "ACSWEEP_PAPER_TABLE must name jobs/data/law_paper_vicuna7b_15.csv"
#endif

namespace acsweep::law {
namespace {

const LawTable& paper() {
  static const LawTable table = read_law_table(ACSWEEP_PAPER_TABLE);
  return table;
}

SimulationSpec all_budgets(std::size_t runs, std::uint64_t seed, std::vector<Sampler> samplers) {
  SimulationSpec spec;
  spec.budgets.resize(paper().size());
  std::iota(spec.budgets.begin(), spec.budgets.end(), std::size_t{1});
  spec.runs = runs;
  spec.seed = seed;
  spec.samplers = std::move(samplers);
  return spec;
}

TEST(PolicySimulation, EqualsAReplayWithACPolicyRankingEverySetting) {
  const SimulationSpec spec = all_budgets(60, 17, {Sampler::Region});
  const PolicySimulation simulation(paper(), spec);
  const std::vector<std::int64_t> hits = simulation.count_hits();

  const NormalisedTable n = normalise_table(paper());
  const ACPolicy policy(n.a, n.c);
  const std::size_t B = n.y.size();
  for (std::size_t bi = 0; bi < spec.budgets.size(); ++bi) {
    std::vector<std::int64_t> at1(B, 0), at3(B, 0);
    for (std::size_t run = 0; run < spec.runs; ++run) {
      SeededRng rng(derive_seed(spec.seed, {0, spec.budgets[bi], run}));
      const std::vector<std::size_t> sampled = policy.sampler().sample(spec.budgets[bi], rng);
      for (std::size_t b = 0; b < B; ++b) {
        std::vector<double> measured;
        for (std::size_t i : sampled) measured.push_back(n.y[b][i]);
        const PolicyRanking r = policy.rank(sampled, measured);
        const std::size_t best = std::max_element(n.y[b].begin(), n.y[b].end()) - n.y[b].begin();
        at1[b] += r.ranking[0] == best;
        at3[b] += std::find(r.ranking.begin(), r.ranking.begin() + 3, best) != r.ranking.begin() + 3;
      }
    }
    for (std::size_t b = 0; b < B; ++b) {
      EXPECT_EQ(hits[(bi * B + b) * 2 + 0], at1[b]) << "budget " << spec.budgets[bi] << " benchmark " << b;
      EXPECT_EQ(hits[(bi * B + b) * 2 + 1], at3[b]) << "budget " << spec.budgets[bi] << " benchmark " << b;
    }
  }
}

TEST(PolicySimulation, RandomBaselineRecallIsBudgetOverK) {
  const std::size_t runs = 4000;
  const PolicySimulation simulation(paper(), all_budgets(runs, 3, {Sampler::Random}));
  const SimulationResult result = simulation.summarise(simulation.count_hits());
  const double k = static_cast<double>(paper().size());
  for (const auto& bench : result.benchmarks)
    for (const auto& point : bench.curve) {
      const double p = point.budget / k;
      const double sigma = std::sqrt(p * (1 - p) / runs);
      EXPECT_NEAR(point.recall_at_1, p, 4 * sigma + 1e-12) << bench.benchmark << " k'=" << point.budget;
      EXPECT_EQ(point.recall_at_1, point.recall_at_3);
    }
}

TEST(PolicySimulation, AnySplitOfTheRunsGivesTheSameCounts) {
  const PolicySimulation simulation(paper(), all_budgets(50, 99, {Sampler::Region, Sampler::Random}));
  const std::vector<std::int64_t> whole = simulation.count_hits();
  for (std::size_t parts : {2u, 3u, 7u}) {
    std::vector<std::int64_t> sum(whole.size(), 0);
    for (std::size_t p = 0; p < parts; ++p) {
      const auto piece = simulation.count_hits(p, parts);
      for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += piece[i];
    }
    EXPECT_EQ(sum, whole) << parts << " parts";
  }
}

TEST(PolicySimulation, FullBudgetAlwaysFindsTheBest) {
  SimulationSpec spec = all_budgets(20, 1, {Sampler::Region, Sampler::Random});
  spec.budgets = {paper().size()};
  const PolicySimulation simulation(paper(), spec);
  for (const auto& point : simulation.summarise(simulation.count_hits()).average) {
    EXPECT_EQ(point.recall_at_1, 1.0);
    EXPECT_EQ(point.recall_at_3, 1.0);
  }
}

TEST(PolicySimulation, RejectsImpossibleBudgets) {
  SimulationSpec spec = all_budgets(10, 0, {Sampler::Region});
  spec.budgets = {paper().size() + 1};
  EXPECT_THROW(PolicySimulation(paper(), spec), InputError);
  spec.budgets = {0};
  EXPECT_THROW(PolicySimulation(paper(), spec), InputError);
}

TEST(ACPolicy, FinetunedSettingsKeepTheirMeasuredValue) {
  const NormalisedTable n = normalise_table(paper());
  const ACPolicy policy(n.a, n.c);
  const std::vector<std::size_t> finetuned{0, 4, 9};
  const PolicyRanking r = policy.rank(finetuned, {0.9, 0.1, 0.5});
  EXPECT_EQ(r.score[0], 0.9);
  EXPECT_EQ(r.score[4], 0.1);
  EXPECT_EQ(r.score[9], 0.5);
  for (std::size_t i = 1; i < r.ranking.size(); ++i)
    EXPECT_GE(r.score[r.ranking[i - 1]], r.score[r.ranking[i]]);
  for (std::size_t i = 0; i < r.ranking.size(); ++i)
    EXPECT_EQ(rank_of(r.score.data(), r.score.size(), r.ranking[i]), i);
}

}  // namespace
}  // namespace acsweep::law
