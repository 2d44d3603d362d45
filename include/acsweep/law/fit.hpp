#pragma once
// The Law: benchmark score as a polynomial of the normalised A and C scores, fitted by ordinary
// least squares (LAW.md, "The Law"). Under-determined or collinear systems get the minimum-norm
// least-squares solution, never an error.
#include <Eigen/Core>
#include <string>
#include <vector>

namespace acsweep::law {

enum class FeatureSet { AC, A, C };

// Which polynomial: degree 1 or 2 over (a, c), a alone or c alone.
struct LawModel {
  int degree = 2;
  FeatureSet features = FeatureSet::AC;

  // Term names in column order: a subset of one, a, c, aa, ac, cc.
  std::vector<std::string> terms() const;
  int term_count() const { return static_cast<int>(terms().size()); }
  // Writes the term values of the point (a, c) to row[0 .. term_count()).
  void fill_terms(double a, double c, double* row) const;
};

// "AC", "A" or "C"; parse_feature_set throws InputError on anything else.
std::string to_string(FeatureSet features);
FeatureSet parse_feature_set(const std::string& text);
// The model named like "deg2_AC", used as an HDF5 group name.
std::string model_name(const LawModel& model);

// Rows = points, columns = the model's terms.
Eigen::MatrixXd design_matrix(const LawModel& model, const std::vector<double>& a,
                              const std::vector<double>& c);

// argmin ||X W - Y|| of least norm, one column of W per column of Y.
Eigen::MatrixXd least_squares_min_norm(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y);

// 1 - SS_res / SS_tot; NaN when y is constant (R^2 is undefined there).
double r_squared(const std::vector<double>& y, const std::vector<double>& fitted);

struct LawFit {
  LawModel model;
  std::vector<double> coefficients;  // in model.terms() order
  std::vector<double> fitted;        // at the points it was fitted on
  double r2 = 0.0;

  double predict(double a, double c) const;
};

// Fits y ~ model(a, c) on equally long vectors (any values; the Law uses normalised ones).
LawFit fit_law(const LawModel& model, const std::vector<double>& a, const std::vector<double>& c,
               const std::vector<double>& y);

}  // namespace acsweep::law
