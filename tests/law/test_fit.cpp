// The Law's fit against independent computations: values derived by hand, a normal-equations
// solve, the closed-form minimum-norm solution X^T (X X^T)^-1 y, and the symmetric split of a
// duplicated column.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <limits>
#include <random>

#include "acsweep/error.hpp"
#include "acsweep/law/fit.hpp"

namespace acsweep::law {
namespace {

TEST(LawFit, HandDerivedLineOnA) {
  // a = (0, .5, 1), y = (0, 1, 1): slope 1, intercept 1/6, SS_res = 1/6, SS_tot = 2/3, R^2 = 3/4.
  const LawFit fit = fit_law({1, FeatureSet::A}, {0, 0.5, 1}, {0, 0, 0}, {0, 1, 1});
  ASSERT_EQ(fit.coefficients.size(), 2u);
  EXPECT_NEAR(fit.coefficients[0], 1.0 / 6, 1e-12);
  EXPECT_NEAR(fit.coefficients[1], 1.0, 1e-12);
  EXPECT_NEAR(fit.fitted[1], 2.0 / 3, 1e-12);
  EXPECT_NEAR(fit.r2, 0.75, 1e-12);
}

TEST(LawFit, ExactQuadraticIsRecovered) {
  // y = 0.3 - a + 2c + 0.5a^2 - 1.5ac + c^2 on 8 generic points: R^2 = 1 and the weights back.
  std::vector<double> a{0, 1, 0.2, 0.9, 0.5, 0.1, 0.7, 0.35}, c{0.3, 0.8, 1, 0, 0.45, 0.6, 0.15, 0.9}, y;
  for (std::size_t i = 0; i < a.size(); ++i)
    y.push_back(0.3 - a[i] + 2 * c[i] + 0.5 * a[i] * a[i] - 1.5 * a[i] * c[i] + c[i] * c[i]);
  const LawFit fit = fit_law({}, a, c, y);
  const std::vector<double> expected{0.3, -1, 2, 0.5, -1.5, 1};
  for (std::size_t t = 0; t < 6; ++t) EXPECT_NEAR(fit.coefficients[t], expected[t], 1e-10) << t;
  EXPECT_NEAR(fit.r2, 1.0, 1e-12);
  EXPECT_NEAR(fit.predict(0.4, 0.4), 0.3 - 0.4 + 0.8 + 0.08 - 0.24 + 0.16, 1e-10);
}

TEST(LawFit, MatchesNormalEquationsOnNoisyData) {
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (int degree : {1, 2})
    for (FeatureSet features : {FeatureSet::AC, FeatureSet::A, FeatureSet::C}) {
      std::vector<double> a, c, y;
      for (int i = 0; i < 15; ++i) {
        a.push_back(u(gen));
        c.push_back(u(gen));
        y.push_back(u(gen));
      }
      const LawModel model{degree, features};
      const LawFit fit = fit_law(model, a, c, y);
      // Independent: build the design matrix by hand and solve (X^T X) w = X^T y by LDLT.
      const int p = model.term_count();
      Eigen::MatrixXd X(15, p);
      for (int i = 0; i < 15; ++i) {
        std::vector<double> row{1.0};
        if (features != FeatureSet::C) row.push_back(a[i]);
        if (features != FeatureSet::A) row.push_back(c[i]);
        if (degree == 2) {
          if (features != FeatureSet::C) row.push_back(a[i] * a[i]);
          if (features == FeatureSet::AC) row.push_back(a[i] * c[i]);
          if (features != FeatureSet::A) row.push_back(c[i] * c[i]);
        }
        for (int t = 0; t < p; ++t) X(i, t) = row[t];
      }
      const Eigen::VectorXd Y = Eigen::Map<Eigen::VectorXd>(y.data(), 15);
      const Eigen::VectorXd w = (X.transpose() * X).ldlt().solve(X.transpose() * Y);
      for (int t = 0; t < p; ++t) EXPECT_NEAR(fit.coefficients[t], w(t), 1e-9) << model_name(model);
      const double mean = Y.mean();
      const double r2 = 1 - (Y - X * w).squaredNorm() / (Y.array() - mean).square().sum();
      EXPECT_NEAR(fit.r2, r2, 1e-10);
    }
}

TEST(LawFit, UnderDeterminedGivesMinimumNormFor2To5Points) {
  std::mt19937_64 gen(11);
  std::uniform_real_distribution<double> u(0, 1);
  for (int n = 2; n <= 5; ++n) {
    std::vector<double> a, c, y;
    for (int i = 0; i < n; ++i) {
      a.push_back(u(gen));
      c.push_back(u(gen));
      y.push_back(u(gen));
    }
    const LawFit fit = fit_law({}, a, c, y);
    // Rows are independent, so the minimum-norm solution is X^T (X X^T)^-1 y.
    Eigen::MatrixXd X(n, 6);
    for (int i = 0; i < n; ++i) X.row(i) << 1, a[i], c[i], a[i] * a[i], a[i] * c[i], c[i] * c[i];
    const Eigen::VectorXd Y = Eigen::Map<Eigen::VectorXd>(y.data(), n);
    const Eigen::VectorXd w = X.transpose() * (X * X.transpose()).ldlt().solve(Y);
    for (int t = 0; t < 6; ++t) EXPECT_NEAR(fit.coefficients[t], w(t), 1e-9) << "n=" << n;
    for (int i = 0; i < n; ++i) EXPECT_NEAR(fit.fitted[i], y[i], 1e-9);  // interpolates
    EXPECT_NEAR(fit.r2, 1.0, 1e-9);
  }
}

TEST(LawFit, SinglePointIsMinimumNormNotAnError) {
  // One point x = (1, a, c, a^2, ac, c^2): w = x y / |x|^2.
  const double a = 0.5, c = 0.25, y = 0.8;
  const LawFit fit = fit_law({}, {a}, {c}, {y});
  const double x[6] = {1, a, c, a * a, a * c, c * c};
  double norm2 = 0;
  for (double v : x) norm2 += v * v;
  for (int t = 0; t < 6; ++t) EXPECT_NEAR(fit.coefficients[t], x[t] * y / norm2, 1e-12);
  EXPECT_TRUE(std::isnan(fit.r2));  // R^2 of one point is undefined
}

TEST(LawFit, CollinearColumnsSplitTheWeightEvenly) {
  // a == c makes columns a and c identical: y = 1 + 2a is fitted exactly, and the minimum-norm
  // solution puts 1 on each twin.
  const std::vector<double> a{0, 0.3, 0.6, 1};
  std::vector<double> y;
  for (double v : a) y.push_back(1 + 2 * v);
  const LawFit fit = fit_law({1, FeatureSet::AC}, a, a, y);
  EXPECT_NEAR(fit.coefficients[0], 1.0, 1e-10);
  EXPECT_NEAR(fit.coefficients[1], 1.0, 1e-10);
  EXPECT_NEAR(fit.coefficients[2], 1.0, 1e-10);
  EXPECT_NEAR(fit.r2, 1.0, 1e-12);
}

// Ridge with its strength by leave-one-out (law/fit.hpp), against a brute-force replay: for each
// strength, refit on every n - 1 rows by the normal equations and predict the row left out; the
// strength with the least squared error wins, and its fit on all rows is ridge_loo's. Strength 0
// alone is the minimum-norm least squares, over- and under-determined.
TEST(LawFit, RidgeLeaveOneOutEqualsABruteForceReplay) {
  std::mt19937 gen(7);
  std::normal_distribution<double> noise(0.0, 0.1);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const LawModel model;
  for (const int n : {3, 5, 6, 9}) {
    std::vector<double> a(n), c(n);
    for (int i = 0; i < n; ++i) {
      a[i] = unit(gen);
      c[i] = unit(gen);
    }
    const Eigen::MatrixXd X = design_matrix(model, a, c);
    Eigen::MatrixXd Y(n, 2);
    for (int i = 0; i < n; ++i) {
      Y(i, 0) = 1 + a[i] - 2 * a[i] * c[i] + noise(gen);
      Y(i, 1) = c[i] * c[i] + noise(gen);
    }
    EXPECT_TRUE(ridge_loo(X, Y, {0.0}).isApprox(least_squares_min_norm(X, Y), 1e-12)) << n << " points";
    const auto ridge = [](const Eigen::MatrixXd& A, const Eigen::VectorXd& y,
                          double lambda) -> Eigen::VectorXd {
      if (lambda == 0.0) return least_squares_min_norm(A, y);
      const Eigen::MatrixXd normal =
          A.transpose() * A + lambda * Eigen::MatrixXd::Identity(A.cols(), A.cols());
      return normal.ldlt().solve(A.transpose() * y);
    };
    const Eigen::MatrixXd chosen = ridge_loo(X, Y);
    for (int b = 0; b < 2; ++b) {
      double best_error = std::numeric_limits<double>::infinity(), best_lambda = -1;
      for (const double lambda : ridge_strengths()) {
        if (lambda == 0.0 && n <= model.term_count()) continue;  // interpolates: left-out rows unjudged
        double error = 0;
        for (int out = 0; out < n; ++out) {
          Eigen::MatrixXd A(n - 1, X.cols());
          Eigen::VectorXd y(n - 1);
          for (int i = 0, r = 0; i < n; ++i)
            if (i != out) {
              A.row(r) = X.row(i);
              y(r++) = Y(i, b);
            }
          const double miss = Y(out, b) - X.row(out).dot(ridge(A, y, lambda));
          error += miss * miss;
        }
        if (error < best_error) {
          best_error = error;
          best_lambda = lambda;
        }
      }
      const Eigen::VectorXd expected = ridge(X, Y.col(b), best_lambda);
      EXPECT_LT((chosen.col(b) - expected).norm(), 1e-8 * (1 + expected.norm()))
          << n << " points, benchmark " << b << ", strength " << best_lambda;
    }
  }
  EXPECT_THROW(parse_fit_method("lasso"), InputError);
  EXPECT_EQ(to_string(parse_fit_method("ridge")), "ridge");
}

// Leave-one-out by hand: a line through (0, 0), (.5, 1), (1, 1). Without the first point the line
// through the other two is flat at 1; without the second, the line through (0, 0) and (1, 1)
// gives .5; without the third, the line of slope 2 through the first two gives 2 at a = 1.
TEST(LawFit, LeaveOneOutByHandOnALine) {
  const auto loo = leave_one_out_predictions({1, FeatureSet::A}, {0, 0.5, 1}, {0, 0, 0}, {0, 1, 1});
  ASSERT_EQ(loo.size(), 3u);
  EXPECT_NEAR(loo[0], 1.0, 1e-12);
  EXPECT_NEAR(loo[1], 0.5, 1e-12);
  EXPECT_NEAR(loo[2], 2.0, 1e-12);
}

// With more points than coefficients and X of full rank, the i-th leave-one-out residual is the
// full fit's residual over 1 - H_ii (H = X (X^T X)^-1 X^T, the hat matrix): the closed form against
// the refits.
TEST(LawFit, LeaveOneOutEqualsTheHatMatrixFormula) {
  std::mt19937_64 gen(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> a(11), c(11), y(11);
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = u(gen);
    c[i] = u(gen);
    y[i] = 1 + a[i] - 2 * c[i] * c[i] + 0.3 * a[i] * c[i] + 0.1 * (u(gen) - 0.5);
  }
  const LawModel model;
  const auto loo = leave_one_out_predictions(model, a, c, y);
  const Eigen::MatrixXd X = design_matrix(model, a, c);
  const Eigen::MatrixXd H = X * (X.transpose() * X).inverse() * X.transpose();
  const LawFit fit = fit_law(model, a, c, y);
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double residual =
        (y[i] - fit.fitted[i]) / (1.0 - H(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i)));
    EXPECT_NEAR(y[i] - loo[i], residual, 1e-9) << i;
  }
  EXPECT_THROW(leave_one_out_predictions(model, {0.5}, {0.5}, {1.0}), std::invalid_argument);
}

TEST(LawFit, TermNames) {
  EXPECT_EQ((LawModel{2, FeatureSet::AC}.terms()),
            (std::vector<std::string>{"one", "a", "c", "aa", "ac", "cc"}));
  EXPECT_EQ((LawModel{1, FeatureSet::C}.terms()), (std::vector<std::string>{"one", "c"}));
  EXPECT_EQ((LawModel{2, FeatureSet::A}.terms()), (std::vector<std::string>{"one", "a", "aa"}));
  EXPECT_THROW((LawModel{3, FeatureSet::AC}.terms()), std::runtime_error);
}

}  // namespace
}  // namespace acsweep::law
