// The sequential policy: its posterior against an independent solve, its picks where the answer
// is plain, its determinism, and the synthetic tables it is judged on.
#include <gtest/gtest.h>

#include <Eigen/QR>
#include <cmath>
#include <set>

#include "acsweep/error.hpp"
#include "acsweep/law/fit.hpp"
#include "acsweep/law/normalise.hpp"
#include "acsweep/law/policy_simulation.hpp"
#include "acsweep/law/sequential_sampler.hpp"
#include "acsweep/law/synthetic_table.hpp"
#include "acsweep/law/table_fit.hpp"

namespace acsweep::law {
namespace {

// A 6 x 6 grid of the unit square.
struct Grid {
  std::vector<double> a, c;
  Grid() {
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 6; ++j) {
        a.push_back(i / 5.0);
        c.push_back(j / 5.0);
      }
  }
};

Eigen::MatrixXd rows_of(const Eigen::MatrixXd& M, const std::vector<std::size_t>& rows) {
  Eigen::MatrixXd out(static_cast<Eigen::Index>(rows.size()), M.cols());
  for (std::size_t j = 0; j < rows.size(); ++j)
    out.row(static_cast<Eigen::Index>(j)) = M.row(static_cast<Eigen::Index>(rows[j]));
  return out;
}

TEST(SequentialSampler, PredictionIsTheRidgePosteriorMeanSolvedIndependently) {
  const Grid g;
  const LawModel model;
  const Eigen::MatrixXd X = design_matrix(model, g.a, g.c);
  const RegionSampler region(g.a, g.c);
  const SequentialSampler sampler(X, region);
  const std::vector<std::size_t> measured{0, 7, 14, 20, 29};
  Eigen::MatrixXd y(5, 1);
  y << 3.0, 5.0, 4.0, 9.0, 1.0;  // normalised over the measured: (y - 1) / 8

  // Augmented least squares [Xd; sqrt(lambda) I] w = [y; 0] by QR, not the normal equations.
  const Eigen::Index p = X.cols();
  Eigen::MatrixXd augmented = Eigen::MatrixXd::Zero(5 + p, p);
  augmented.topRows(5) = rows_of(X, measured);
  augmented.bottomRows(p) = std::sqrt(SequentialSampler::kPriorStrength) * Eigen::MatrixXd::Identity(p, p);
  Eigen::VectorXd target = Eigen::VectorXd::Zero(5 + p);
  target.head(5) = (y.col(0).array() - 1.0) / 8.0;
  const Eigen::VectorXd w = augmented.colPivHouseholderQr().solve(target);
  const double rss = (target - augmented * w).squaredNorm();  // residuals plus lambda |w|^2
  const int dof = SequentialSampler::kPriorDof + 5;
  const double prior =
      SequentialSampler::kPriorDof * SequentialSampler::kPriorScale * SequentialSampler::kPriorScale;
  const double s2 = (prior + rss) / dof;
  const Eigen::MatrixXd precision = augmented.transpose() * augmented;

  SeededRng rng(5);
  const auto picks = sampler.next(measured, y, 31, rng);  // every unmeasured setting
  ASSERT_EQ(picks.size(), 31u);
  for (std::size_t j = 0; j + 1 < picks.size(); ++j)
    EXPECT_GE(picks[j].gain, picks[j + 1].gain) << "picks come largest expected improvement first";
  EXPECT_GT(picks.front().gain, 0.0);
  for (const SequentialPick& pick : picks) {
    EXPECT_GE(pick.gain, 0.0);
    const Eigen::VectorXd x = X.row(static_cast<Eigen::Index>(pick.setting)).transpose();
    EXPECT_NEAR(pick.predicted, x.dot(w), 1e-9) << "setting " << pick.setting;
    const double var = s2 * dof / (dof - 2.0) * x.dot(precision.ldlt().solve(x));
    EXPECT_NEAR(pick.sd, std::sqrt(var), 1e-9) << "setting " << pick.setting;
  }
}

TEST(SequentialSampler, PicksTheCornerThatAWellMeasuredPlaneRisesTo) {
  const Grid g;
  const LawModel model;
  const RegionSampler region(g.a, g.c);
  const SequentialSampler sampler(design_matrix(model, g.a, g.c), region);
  std::vector<std::size_t> measured;
  Eigen::MatrixXd y(35, 2);
  for (std::size_t i = 0; i < 35; ++i) {  // all but the last, (1, 1), measured without noise
    measured.push_back(i);
    y(static_cast<Eigen::Index>(i), 0) = g.a[i] + g.c[i];
    y(static_cast<Eigen::Index>(i), 1) = 2 * g.a[i] + g.c[i] - 0.5 * g.a[i] * g.c[i];
  }
  SeededRng rng(1);
  const auto picks = sampler.next(measured, y, 1, rng);
  EXPECT_EQ(picks[0].setting, 35u);
  EXPECT_GT(picks[0].chance, 0.75);  // the second benchmark rises to it by only 4% of its range
  // Half the grid measured on the a < 0.5 side: the unmeasured a = 1 column holds the best.
  measured.clear();
  Eigen::MatrixXd half(18, 1);
  for (std::size_t i = 0; i < 18; ++i) {
    measured.push_back(i);
    half(static_cast<Eigen::Index>(i), 0) = 3 * g.a[i] - (g.c[i] - 0.5) * (g.c[i] - 0.5);
  }
  const auto next = sampler.next(measured, half, 3, rng);
  ASSERT_EQ(next.size(), 3u);
  EXPECT_DOUBLE_EQ(g.a[next[0].setting], 1.0);
  EXPECT_GE(next[0].gain, next[1].gain);
  EXPECT_GE(next[1].gain, next[2].gain);
  // A plane measured on half the grid, rising in a by 3 units of the measured range over a unit of
  // a: the a = 1 column lies some 1.5 units above the best measured (a = 0.4).
  EXPECT_GT(next[0].gain, 1.0);
  std::set<std::size_t> distinct;
  for (const auto& pick : next) {
    EXPECT_GE(pick.setting, 18u);  // never a measured one
    distinct.insert(pick.setting);
  }
  EXPECT_EQ(distinct.size(), 3u);
}

TEST(SequentialSampler, FirstPickIsRegionSampledAndEveryRunRepeatsFromItsSeed) {
  const Grid g;
  const RegionSampler region(g.a, g.c);
  const SequentialSampler sampler(design_matrix(LawModel{}, g.a, g.c), region);
  Eigen::MatrixXd Y(36, 2);
  for (std::size_t i = 0; i < 36; ++i) {
    Y(static_cast<Eigen::Index>(i), 0) = std::sin(3 * g.a[i]) + g.c[i];
    Y(static_cast<Eigen::Index>(i), 1) = g.a[i] * g.c[i];
  }
  std::set<std::vector<std::size_t>> runs;
  for (std::uint64_t seed = 0; seed < 8; ++seed) {
    SeededRng r1(seed), r2(seed), r3(seed);
    const auto run = sampler.sample(8, Y, r1);
    EXPECT_EQ(run, sampler.sample(8, Y, r2)) << "seed " << seed;
    EXPECT_EQ(run.front(), region.sample(1, r3).front()) << "seed " << seed;
    EXPECT_EQ(std::set<std::size_t>(run.begin(), run.end()).size(), 8u) << "a setting picked twice";
    runs.insert(run);
  }
  EXPECT_GT(runs.size(), 1u) << "the seed changes nothing";
  SeededRng rng(0);
  EXPECT_THROW(sampler.next({0, 1}, Eigen::MatrixXd::Zero(2, 1), 35, rng), InputError);
}

TEST(SequentialSampler, FindsTheBestOfANoiseFreeQuadraticSoonerThanRegionSampling) {
  // Averaged over synthetic tables, how often the best setting itself is finetuned within 5.
  double sequential = 0, region = 0;
  const int tables = 20, runs = 10;
  for (int t = 0; t < tables; ++t) {
    const LawTable table = synthetic_law_table({30, 1, 0.0, 1.0}, 100 + t);
    const NormalisedTable n = normalise_table(table);
    const Eigen::MatrixXd X = design_matrix(LawModel{}, n.a, n.c);
    Eigen::MatrixXd Y(30, 1);
    for (std::size_t i = 0; i < 30; ++i) Y(static_cast<Eigen::Index>(i), 0) = n.y[0][i];
    const std::size_t best =
        static_cast<std::size_t>(std::max_element(n.y[0].begin(), n.y[0].end()) - n.y[0].begin());
    const RegionSampler r(n.a, n.c);
    const SequentialSampler s(X, r);
    for (int run = 0; run < runs; ++run) {
      SeededRng r1(derive_seed(7, {std::uint64_t(t), std::uint64_t(run)})), r2 = r1;
      const auto a = s.sample(5, Y, r1), b = r.sample(5, r2);
      sequential += std::find(a.begin(), a.end(), best) != a.end();
      region += std::find(b.begin(), b.end(), best) != b.end();
    }
  }
  sequential /= tables * runs;
  region /= tables * runs;
  EXPECT_GT(sequential, region + 0.4) << "sequential " << sequential << ", region " << region;
}

TEST(SyntheticLawTable, RepeatsFromItsSeedAndFollowsItsQuadraticUpToTheNoise) {
  const SyntheticTableSpec clean{50, 3, 0.0, 0.5}, noisy{50, 3, 0.2, 0.5};
  const LawTable a = synthetic_law_table(clean, 9), b = synthetic_law_table(clean, 9);
  EXPECT_EQ(a.alignment, b.alignment);
  EXPECT_EQ(a.benchmark_scores, b.benchmark_scores);
  EXPECT_NE(a.benchmark_scores, synthetic_law_table(clean, 10).benchmark_scores);
  const LawTable c = synthetic_law_table(noisy, 9);
  EXPECT_EQ(a.alignment, c.alignment) << "the noise must not move the settings";
  for (std::size_t bench = 0; bench < 3; ++bench) {
    // Noise-free: a quadratic of (A, C) exactly, spanning [0, 1].
    std::vector<double> av, cv;
    for (std::size_t i = 0; i < 50; ++i) {
      av.push_back(a.alignment[i]);
      cv.push_back(a.correspondence[i]);
    }
    const LawFit fit = fit_law(LawModel{}, av, cv, a.benchmark_scores[bench]);
    EXPECT_GT(fit.r2, 1 - 1e-9);
    const auto [lo, hi] =
        std::minmax_element(a.benchmark_scores[bench].begin(), a.benchmark_scores[bench].end());
    EXPECT_NEAR(*lo, 0.0, 1e-12);
    EXPECT_NEAR(*hi, 1.0, 1e-12);
    const LawFit noisy_fit = fit_law(LawModel{}, av, cv, c.benchmark_scores[bench]);
    EXPECT_LT(noisy_fit.r2, 0.99);
  }
}

}  // namespace
}  // namespace acsweep::law
