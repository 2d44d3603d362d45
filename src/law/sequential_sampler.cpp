#include "acsweep/law/sequential_sampler.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "acsweep/error.hpp"

namespace acsweep::law {
namespace {

// chi^2 with an integer number of degrees of freedom, as a sum of squared normals.
double chi_squared(int dof, SeededRng& rng) {
  double sum = 0.0;
  for (int i = 0; i < dof; ++i) {
    const double z = standard_normal(rng);
    sum += z * z;
  }
  return sum;
}

}  // namespace

SequentialSampler::SequentialSampler(Eigen::MatrixXd X, const RegionSampler& region)
    : X_(std::move(X)), region_(region) {
  if (static_cast<std::size_t>(X_.rows()) != region_.size())
    throw std::invalid_argument(
        "SequentialSampler: the design matrix and the region sampler differ in settings");
}

std::vector<SequentialPick> SequentialSampler::next(const std::vector<std::size_t>& measured,
                                                    const Eigen::MatrixXd& measured_y, std::size_t count,
                                                    SeededRng& rng) const {
  const std::size_t k = size(), n = measured.size();
  const Eigen::Index p = X_.cols();
  if (static_cast<std::size_t>(measured_y.rows()) != n)
    throw std::invalid_argument("SequentialSampler: one row of measured values per measured setting");
  std::vector<char> taken(k, 0);
  for (const std::size_t i : measured) {
    if (i >= k) throw std::out_of_range("SequentialSampler: measured setting index out of range");
    taken[i] = 1;
  }
  const std::size_t left = k - static_cast<std::size_t>(std::count(taken.begin(), taken.end(), 1));
  if (count > left)
    throw InputError("budget " + std::to_string(count) + " is larger than the " + std::to_string(left) +
                     " settings left to sample");
  std::vector<SequentialPick> picks;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (n == 0 || measured_y.cols() == 0) {  // nothing to learn from yet: cover the plane
    for (const std::size_t i : region_.sample(count, rng, measured)) picks.push_back({i, nan, nan, nan, nan});
    return picks;
  }

  Eigen::MatrixXd Xd(static_cast<Eigen::Index>(n), p);
  for (std::size_t j = 0; j < n; ++j)
    Xd.row(static_cast<Eigen::Index>(j)) = X_.row(static_cast<Eigen::Index>(measured[j]));
  Eigen::MatrixXd A = Xd.transpose() * Xd;
  A.diagonal().array() += kPriorStrength;
  const Eigen::LLT<Eigen::MatrixXd> A_llt(A);
  if (A_llt.info() != Eigen::Success)
    throw std::runtime_error("SequentialSampler: posterior precision is not positive");
  const Eigen::MatrixXd A_inv = A_llt.solve(Eigen::MatrixXd::Identity(p, p));
  const Eigen::VectorXd leverage = (X_ * A_inv).cwiseProduct(X_).rowwise().sum();  // x^T A^-1 x
  const int dof = kPriorDof + static_cast<int>(n);
  const auto n_bench = static_cast<std::size_t>(measured_y.cols());

  std::vector<double> votes(k, 0.0), predicted(k, 0.0), sd(k, 0.0), gain(k, 0.0);
  Eigen::MatrixXd z(p, static_cast<Eigen::Index>(kDraws));
  for (std::size_t b = 0; b < n_bench; ++b) {
    Eigen::VectorXd y = measured_y.col(static_cast<Eigen::Index>(b));
    const double lo = y.minCoeff(), hi = y.maxCoeff();
    y.array() -= lo;
    if (hi > lo) y /= hi - lo;
    const Eigen::VectorXd mean = A_llt.solve(Xd.transpose() * y);
    const double scale2 = (kPriorDof * kPriorScale * kPriorScale + (y - Xd * mean).squaredNorm() +
                           kPriorStrength * mean.squaredNorm()) /
                          dof;
    const Eigen::MatrixXd L = Eigen::LLT<Eigen::MatrixXd>(scale2 * A_inv).matrixL();
    for (Eigen::Index d = 0; d < z.cols(); ++d) {
      const double g = std::sqrt(chi_squared(dof, rng) / dof);
      for (Eigen::Index t = 0; t < p; ++t) z(t, d) = standard_normal(rng) / g;
    }
    Eigen::MatrixXd F = X_ * ((L * z).colwise() + mean);  // [setting, draw]
    for (std::size_t j = 0; j < n; ++j)
      F.row(static_cast<Eigen::Index>(measured[j])).setConstant(y(static_cast<Eigen::Index>(j)));
    const double best_measured = y.maxCoeff();
    for (std::size_t i = 0; i < k; ++i)
      gain[i] += (F.row(static_cast<Eigen::Index>(i)).array() - best_measured).max(0.0).mean() /
                 static_cast<double>(n_bench);
    for (Eigen::Index d = 0; d < F.cols(); ++d) {
      Eigen::Index best = 0;
      F.col(d).maxCoeff(&best);
      votes[static_cast<std::size_t>(best)] += 1.0;
    }
    const Eigen::VectorXd prediction = X_ * mean;
    // The sd of the Student t of the prediction x^T w (dof >= 3 once a setting is measured).
    const double t_variance = scale2 * dof / (dof - 2.0);
    for (std::size_t i = 0; i < k; ++i) {
      predicted[i] += prediction(static_cast<Eigen::Index>(i)) / static_cast<double>(n_bench);
      sd[i] += std::sqrt(t_variance * leverage(static_cast<Eigen::Index>(i))) / static_cast<double>(n_bench);
    }
  }

  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < k; ++i)
    if (!taken[i]) candidates.push_back(i);
  for (std::size_t i = 0; i + 1 < candidates.size(); ++i)  // a seeded order for the ties
    std::swap(candidates[i], candidates[i + rng.below(candidates.size() - i)]);
  std::stable_sort(candidates.begin(), candidates.end(), [&](std::size_t x, std::size_t y) {
    return gain[x] != gain[y] ? gain[x] > gain[y] : votes[x] > votes[y];
  });
  const double all_votes = static_cast<double>(kDraws * n_bench);
  for (std::size_t j = 0; j < count; ++j) {
    const std::size_t i = candidates[j];
    picks.push_back({i, votes[i] / all_votes, gain[i], predicted[i], sd[i]});
  }
  return picks;
}

std::vector<std::size_t> SequentialSampler::sample(std::size_t budget, const Eigen::MatrixXd& Y,
                                                   SeededRng& rng) const {
  if (static_cast<std::size_t>(Y.rows()) != size())
    throw std::invalid_argument("SequentialSampler: one row of values per setting");
  std::vector<std::size_t> drawn;
  Eigen::MatrixXd measured_y(0, Y.cols());
  while (drawn.size() < budget) {
    const std::size_t pick = next(drawn, measured_y, 1, rng).front().setting;
    drawn.push_back(pick);
    measured_y.conservativeResize(measured_y.rows() + 1, Eigen::NoChange);
    measured_y.row(measured_y.rows() - 1) = Y.row(static_cast<Eigen::Index>(pick));
  }
  return drawn;
}

}  // namespace acsweep::law
