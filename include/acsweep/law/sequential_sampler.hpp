#pragma once
// The sequential AC policy: each next finetune is the setting most likely to be the best one, on
// some benchmark, under a Bayesian quadratic fitted to the finetunes so far (Thompson sampling,
// counted over many posterior draws). Region-based sampling draws the first pick, where nothing
// is measured yet.
//
// The Bayesian quadratic, per benchmark, on the measured values min-max normalised over the
// finetuned settings (0: the worst measured, 1: the best): y = x^T w + noise, with the
// conjugate prior w | s^2 ~ N(0, s^2 / lambda I), s^2 ~ scaled-inv-chi^2(nu0, s0^2). Its
// posterior draws are Student-t; each draw predicts every unmeasured setting, the measured ones
// keep their measured values, and the draw's best setting gets one vote.
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

  // The next `count` settings not in `measured`, most likely best first (ties in a seeded
  // random order). measured_y: [measured setting, benchmark]. Several at a time are what a sweep
  // with several idle worker groups asks for. Throws InputError when fewer settings are left.
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
