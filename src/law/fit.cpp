#include "acsweep/law/fit.hpp"

#include <Eigen/Cholesky>
#include <Eigen/QR>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "acsweep/error.hpp"
#include "acsweep/law/normalise.hpp"

namespace acsweep::law {

std::vector<std::string> LawModel::terms() const {
  if (degree != 1 && degree != 2)
    throw InputError("the Law's degree must be 1 or 2, not " + std::to_string(degree));
  switch (features) {
    case FeatureSet::AC:
      return degree == 1 ? std::vector<std::string>{"one", "a", "c"}
                         : std::vector<std::string>{"one", "a", "c", "aa", "ac", "cc"};
    case FeatureSet::A:
      return degree == 1 ? std::vector<std::string>{"one", "a"} : std::vector<std::string>{"one", "a", "aa"};
    case FeatureSet::C:
      return degree == 1 ? std::vector<std::string>{"one", "c"} : std::vector<std::string>{"one", "c", "cc"};
  }
  throw std::logic_error("unknown FeatureSet");
}

void LawModel::fill_terms(double a, double c, double* row) const {
  row[0] = 1.0;
  switch (features) {
    case FeatureSet::AC:
      row[1] = a;
      row[2] = c;
      if (degree == 2) {
        row[3] = a * a;
        row[4] = a * c;
        row[5] = c * c;
      }
      return;
    case FeatureSet::A:
      row[1] = a;
      if (degree == 2) row[2] = a * a;
      return;
    case FeatureSet::C:
      row[1] = c;
      if (degree == 2) row[2] = c * c;
      return;
  }
}

std::string to_string(FeatureSet features) {
  switch (features) {
    case FeatureSet::AC:
      return "AC";
    case FeatureSet::A:
      return "A";
    case FeatureSet::C:
      return "C";
  }
  throw std::logic_error("unknown FeatureSet");
}

FeatureSet parse_feature_set(const std::string& text) {
  if (text == "AC") return FeatureSet::AC;
  if (text == "A") return FeatureSet::A;
  if (text == "C") return FeatureSet::C;
  throw InputError("--features must be AC, A or C, not '" + text + "'");
}

std::string model_name(const LawModel& model) {
  return "deg" + std::to_string(model.degree) + "_" + to_string(model.features);
}

Eigen::MatrixXd design_matrix(const LawModel& model, const std::vector<double>& a,
                              const std::vector<double>& c) {
  if (a.size() != c.size()) throw std::invalid_argument("design_matrix: a and c differ in length");
  const int p = model.term_count();
  // Row-major scratch so fill_terms can write a row contiguously.
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> X(a.size(), p);
  for (std::size_t i = 0; i < a.size(); ++i) model.fill_terms(a[i], c[i], X.row(i).data());
  return X;
}

Eigen::MatrixXd least_squares_min_norm(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y) {
  // The complete orthogonal decomposition gives the minimum-norm solution for rank-deficient
  // and under-determined X, where a normal-equations or plain QR solve would fail or be arbitrary.
  Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod(X);
  return cod.solve(Y);
}

std::string to_string(FitMethod fit) { return fit == FitMethod::ols ? "ols" : "ridge"; }

FitMethod parse_fit_method(const std::string& text) {
  if (text == "ols") return FitMethod::ols;
  if (text == "ridge") return FitMethod::ridge;
  throw InputError("--fit must be ols or ridge, not '" + text + "'");
}

const std::vector<double>& ridge_strengths() {
  static const std::vector<double> strengths{0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0};
  return strengths;
}

Eigen::MatrixXd ridge_loo(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y,
                          const std::vector<double>& strengths) {
  if (strengths.empty()) throw std::invalid_argument("ridge_loo: no strength to choose from");
  const Eigen::Index n = X.rows(), p = X.cols();
  Eigen::MatrixXd best = least_squares_min_norm(X, Y);
  if (n < 2) return best;
  std::vector<double> best_error(static_cast<std::size_t>(Y.cols()), std::numeric_limits<double>::infinity());
  for (const double lambda : strengths) {
    // W = X^T (X X^T + lambda I)^-1 Y, the ridge solution in its n x n form (n <= p here, mostly);
    // the hat matrix H = X X^T (X X^T + lambda I)^-1. At lambda = 0: the minimum-norm solution.
    Eigen::MatrixXd W(p, Y.cols()), H(n, n);
    if (lambda == 0.0) {
      W = least_squares_min_norm(X, Y);
      H = X * least_squares_min_norm(X, Eigen::MatrixXd::Identity(n, n));
    } else {
      const Eigen::MatrixXd G = X * X.transpose();
      const Eigen::LDLT<Eigen::MatrixXd> solve(G + lambda * Eigen::MatrixXd::Identity(n, n));
      W = X.transpose() * solve.solve(Y);
      H = G * solve.solve(Eigen::MatrixXd::Identity(n, n));
    }
    bool judged = true;
    for (Eigen::Index i = 0; i < n; ++i) judged = judged && H(i, i) < 1.0 - 1e-9;
    if (!judged) continue;
    const Eigen::MatrixXd residual = Y - X * W;
    for (Eigen::Index b = 0; b < Y.cols(); ++b) {
      double error = 0.0;
      for (Eigen::Index i = 0; i < n; ++i) {
        const double loo = residual(i, b) / (1.0 - H(i, i));
        error += loo * loo;
      }
      auto& held = best_error[static_cast<std::size_t>(b)];
      if (error < held) {
        held = error;
        best.col(b) = W.col(b);
      }
    }
  }
  return best;
}

Eigen::MatrixXd fit_coefficients(FitMethod method, const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y) {
  return method == FitMethod::ols ? least_squares_min_norm(X, Y) : ridge_loo(X, Y);
}

double r_squared(const std::vector<double>& y, const std::vector<double>& fitted) {
  double mean = 0.0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(y.size());
  double ss_res = 0.0, ss_tot = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    ss_res += (y[i] - fitted[i]) * (y[i] - fitted[i]);
    ss_tot += (y[i] - mean) * (y[i] - mean);
  }
  if (ss_tot == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return 1.0 - ss_res / ss_tot;
}

double LawFit::predict(double a, double c) const {
  double row[6];
  model.fill_terms(a, c, row);
  double value = 0.0;
  for (std::size_t t = 0; t < coefficients.size(); ++t) value += coefficients[t] * row[t];
  return value;
}

LawFit fit_law(const LawModel& model, const std::vector<double>& a, const std::vector<double>& c,
               const std::vector<double>& y) {
  if (a.size() != y.size() || c.size() != y.size() || y.empty())
    throw std::invalid_argument("fit_law: a, c and y must be equally long and not empty");
  const Eigen::MatrixXd X = design_matrix(model, a, c);
  const Eigen::VectorXd target = Eigen::Map<const Eigen::VectorXd>(y.data(), y.size());
  const Eigen::VectorXd w = least_squares_min_norm(X, target);
  const Eigen::VectorXd fitted = X * w;

  LawFit fit;
  fit.model = model;
  fit.coefficients.assign(w.data(), w.data() + w.size());
  fit.fitted.assign(fitted.data(), fitted.data() + fitted.size());
  fit.r2 = r_squared(y, fit.fitted);
  return fit;
}

std::vector<double> leave_one_out_predictions(const LawModel& model, const std::vector<double>& a,
                                              const std::vector<double>& c, const std::vector<double>& y) {
  if (a.size() != y.size() || c.size() != y.size() || y.size() < 2)
    throw std::invalid_argument(
        "leave_one_out_predictions: a, c and y must be equally long, 2 points or more");
  std::vector<double> out;
  for (std::size_t i = 0; i < y.size(); ++i) {
    std::vector<double> others_a, others_c, others_y;
    for (std::size_t j = 0; j < y.size(); ++j)
      if (j != i) {
        others_a.push_back(a[j]);
        others_c.push_back(c[j]);
        others_y.push_back(y[j]);
      }
    const MinMax range = range_or_unit(others_y);
    for (auto& v : others_y) v = range.apply(v);
    out.push_back(range.lo +
                  (range.hi - range.lo) * fit_law(model, others_a, others_c, others_y).predict(a[i], c[i]));
  }
  return out;
}

}  // namespace acsweep::law
