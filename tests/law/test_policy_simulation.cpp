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
  for (const auto counting : {Counting::exact, Counting::first_hit}) {
    SimulationSpec spec = all_budgets(50, 99, {Sampler::Region, Sampler::Random, Sampler::Sequential});
    spec.counting = counting;
    const PolicySimulation simulation(paper(), spec);
    const std::vector<std::int64_t> whole = simulation.count_hits();
    for (std::size_t parts : {2u, 3u, 7u}) {
      std::vector<std::int64_t> sum(whole.size(), 0);
      for (std::size_t p = 0; p < parts; ++p) {
        const auto piece = simulation.count_hits(p, parts);
        for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += piece[i];
      }
      EXPECT_EQ(sum, whole) << parts << " parts, " << to_string(counting);
    }
  }
}

TEST(PolicySimulation, FullBudgetAlwaysFindsTheBest) {
  SimulationSpec spec = all_budgets(20, 1, {Sampler::Region, Sampler::Random, Sampler::Sequential});
  spec.budgets = {paper().size()};
  const PolicySimulation simulation(paper(), spec);
  for (const auto& point : simulation.summarise(simulation.count_hits()).average) {
    EXPECT_EQ(point.recall_at_1, 1.0);
    EXPECT_EQ(point.recall_at_3, 1.0);
  }
}

// The ridge fit in the simulation: the full budget still finds the best (every setting keeps its
// measured value), recall stays a fraction, and it differs from the paper's fit somewhere.
TEST(PolicySimulation, RidgeFitRunsUnderBothCountings) {
  for (const auto counting : {Counting::exact, Counting::first_hit}) {
    SimulationSpec spec = all_budgets(100, 2, {Sampler::Region});
    spec.counting = counting;
    const PolicySimulation ols(paper(), spec);
    spec.fit = FitMethod::ridge;
    const PolicySimulation ridge(paper(), spec);
    const auto r = ridge.summarise(ridge.count_hits()), o = ols.summarise(ols.count_hits());
    EXPECT_EQ(r.average.back().recall_at_1, 1.0);
    bool differs = false;
    for (std::size_t i = 0; i < r.average.size(); ++i) {
      EXPECT_GE(r.average[i].recall_at_1, 0.0);
      EXPECT_LE(r.average[i].recall_at_3, 1.0);
      differs = differs || r.average[i].recall_at_3 != o.average[i].recall_at_3;
    }
    EXPECT_TRUE(differs) << to_string(counting) << ": ridge ranked as ols everywhere";
  }
}

TEST(PolicySimulation, RejectsImpossibleBudgets) {
  SimulationSpec spec = all_budgets(10, 0, {Sampler::Region});
  spec.budgets = {paper().size() + 1};
  EXPECT_THROW(PolicySimulation(paper(), spec), InputError);
  spec.budgets = {0};
  EXPECT_THROW(PolicySimulation(paper(), spec), InputError);
}

// First-hit counting on 4 settings at a = 0, 1/3, 2/3, 1 with a Law linear in a, results
// y = 1, 4, 2, 3 (the best: setting 1), every first hit derived by hand:
//  - drawn 0, 3, 1, 2: at i = 2 the line through (0, 1) and (1, 3) predicts 1.67 for setting 1 and
//    2.33 for setting 2: third (top 3 hit at 2); at i = 3 the least-squares line through (0, 1),
//    (1, 3), (1/3, 4) is 2 + 1.5a, so setting 2 is predicted 3 and setting 1's measured 4 leads
//    (top 1 hit at 3);
//  - drawn 2, 0, 3, 1: at i = 2 the line 1 + 1.5a ranks setting 1 (1.5) third; at i = 3 the line
//    through (0, 1), (2/3, 2), (1, 3) predicts 1.57 for it, third again; at i = 4 it is measured,
//    and leads (top 1 hit at 4, top 3 at 2);
//  - drawn 1, ...: the best drawn first hits at 1;
//  - drawn 0, 2 and nothing more: top 1 never (3), top 3 at 2 (1 + 1.5a ranks it third).
TEST(PolicySimulation, FirstHitsOfHandBuiltSequences) {
  LawModel line;
  line.degree = 1;
  line.features = FeatureSet::A;
  const Eigen::MatrixXd X = design_matrix(line, {0.0, 1.0 / 3, 2.0 / 3, 1.0}, {0.0, 0.0, 0.0, 0.0});
  Eigen::MatrixXd Y(4, 1);
  Y << 1, 4, 2, 3;
  const auto first = [&](const std::vector<std::size_t>& drawn) {
    return first_hits(X, Y, {1}, drawn, {1, 3}).at(0);
  };
  EXPECT_EQ(first({0, 3, 1, 2}), (std::vector<std::size_t>{3, 2}));
  EXPECT_EQ(first({2, 0, 3, 1}), (std::vector<std::size_t>{4, 2}));
  EXPECT_EQ(first({1, 0, 2, 3}), (std::vector<std::size_t>{1, 1}));
  EXPECT_EQ(first({0, 2}), (std::vector<std::size_t>{3, 2}));
}

// First-hit counting in the simulation: random selection's recall is k'/k within Monte-Carlo
// error (it hits once it draws the best); both samplers' recall never falls as k' grows (a run
// that hit by k' hit by k' + 1); at k' = k every run has hit; and any split of the runs counts alike.
TEST(PolicySimulation, FirstHitCountingIsMonotoneAndRandomIsBudgetOverK) {
  const std::size_t runs = 2000;
  SimulationSpec spec = all_budgets(runs, 5, {Sampler::Region, Sampler::Random});
  spec.counting = Counting::first_hit;
  const PolicySimulation simulation(paper(), spec);
  const auto hits = simulation.count_hits();
  const SimulationResult result = simulation.summarise(hits);
  const double k = static_cast<double>(paper().size());
  for (const auto& bench : result.benchmarks) {
    double previous[2] = {0, 0};  // by sampler
    for (const auto& point : bench.curve) {
      const int s = point.sampler == Sampler::Region ? 0 : 1;
      EXPECT_GE(point.recall_at_1, previous[s]) << bench.benchmark << " k'=" << point.budget;
      EXPECT_GE(point.recall_at_3, point.recall_at_1) << bench.benchmark << " k'=" << point.budget;
      previous[s] = point.recall_at_1;
      if (point.budget == paper().size()) {
        EXPECT_EQ(point.recall_at_1, 1.0);
      }
      if (point.sampler == Sampler::Random) {
        const double p = point.budget / k;
        EXPECT_NEAR(point.recall_at_1, p, 4 * std::sqrt(p * (1 - p) / runs) + 1e-12)
            << bench.benchmark << " k'=" << point.budget;
      }
    }
  }
  std::vector<std::int64_t> sum(hits.size(), 0);
  for (std::size_t p = 0; p < 3; ++p) {
    const auto piece = simulation.count_hits(p, 3);
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += piece[i];
  }
  EXPECT_EQ(sum, hits);
  // A budget's counts do not depend on which other budgets run with it (a task runs one).
  SimulationSpec one = spec;
  one.budgets = {4};
  const auto alone = PolicySimulation(paper(), one).count_hits();
  const std::size_t B = paper().benchmark_names.size();
  for (std::size_t s = 0; s < 2; ++s)
    for (std::size_t i = 0; i < 2 * B; ++i)
      EXPECT_EQ(alone[s * 2 * B + i], hits[(s * spec.budgets.size() + 3) * 2 * B + i]) << s << " " << i;
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
