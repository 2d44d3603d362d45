#pragma once
// The sequential AC policy: each next finetune is the setting with the largest expected
// improvement over the best measured value, under a Bayesian quadratic fitted to the finetunes so
// far (averaged over many posterior draws and over the benchmarks). Region-based sampling draws
// the first pick, where nothing is measured yet.
//
// The Bayesian quadratic, per benchmark, on the measured values min-max normalised over the
// finetuned settings (0: the worst measured, 1: the best): y = x^T w + noise, with the
// conjugate prior w | s^2 ~ N(0, s^2 / lambda I), s^2 ~ scaled-inv-chi^2(nu0, s0^2). Its
// posterior draws are Student-t; each draw predicts every unmeasured setting, the measured ones
// keep their measured values. A setting's expected improvement is the mean over the draws of
// max(its prediction - the best measured value, 0): high where the fit predicts it above the best
// measured and where it is uncertain, zero where it is surely worse. Measuring what the fit ranks
// above the measured best either finds a better setting or corrects an extrapolation that would
// otherwise push the measured best out of the shortlist (docs/PERFORMANCE.md: it beat the
// earlier rule, the setting best in the most draws, by 1.8 points of Recall@3 at k' = 4 over the
// synthetic tables, exact counting and ridge fit).
#include <Eigen/Core>
#include <cstddef>
#include <vector>

#include "acsweep/law/region_sampler.hpp"
#include "acsweep/law/seeded_rng.hpp"

namespace acsweep::law {

// One pick and why it was made.
struct SequentialPick {
  std::size_t setting = 0;
  // Share of the posterior draws, over every benchmark, in which it is the best setting; NaN
  // where it was drawn by region sampling (nothing measured yet).
  double chance = 0.0;
  // Its expected improvement over the best measured value, in normalised units, averaged over the
  // benchmarks: what the picks are ordered by. NaN where region sampling drew it.
  double gain = 0.0;
  // The posterior mean of its prediction and that prediction's standard deviation, in normalised units
  // (0: the worst measured value, 1: the best), averaged over the benchmarks; NaN likewise.
  double predicted = 0.0;
  double sd = 0.0;
};

class SequentialSampler {
 public:
  static constexpr std::size_t kDraws = 64;       // posterior draws per benchmark and pick
  static constexpr double kPriorStrength = 0.01;  // lambda: a prior sd of 10 s per coefficient
  static constexpr int kPriorDof = 2;             // nu0
  static constexpr double kPriorScale = 0.3;      // s0, in normalised units

  // X: every setting's terms of the Law (law::design_matrix); region: over the same settings.
  SequentialSampler(Eigen::MatrixXd X, const RegionSampler& region);

  // The next `count` settings not in `measured`, largest expected improvement first (ties by
  // chance, then in a seeded random order). measured_y: [measured setting, benchmark]. Several
  // at a time are what a sweep with several idle worker groups asks for. Throws InputError when
  // fewer settings are left.
  std::vector<SequentialPick> next(const std::vector<std::size_t>& measured,
                                   const Eigen::MatrixXd& measured_y, std::size_t count,
                                   SeededRng& rng) const;

  // A whole run of `budget` picks, one at a time, each measured from Y [setting, benchmark]
  // (the simulation on a table of known results).
  std::vector<std::size_t> sample(std::size_t budget, const Eigen::MatrixXd& Y, SeededRng& rng) const;

  std::size_t size() const { return static_cast<std::size_t>(X_.rows()); }

 private:
  Eigen::MatrixXd X_;
  const RegionSampler& region_;
};

}  // namespace acsweep::law
