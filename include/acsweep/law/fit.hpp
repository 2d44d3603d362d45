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

// How the Law is fitted in a policy: the paper's minimum-norm least squares (ols), or ridge with
// its strength chosen by leave-one-out on the fitted points (ridge), which does not interpolate
// the few finetuned points exactly when there are about as many as coefficients.
enum class FitMethod { ols, ridge };
std::string to_string(FitMethod fit);                 // "ols" or "ridge"
FitMethod parse_fit_method(const std::string& text);  // InputError on anything else

// The strengths ridge_loo chooses from: 0 (the minimum-norm least squares) and 10^-4 .. 10^1.
const std::vector<double>& ridge_strengths();

// Ridge regression, argmin ||X w - y||^2 + lambda ||w||^2 (every coefficient penalised, so
// lambda -> 0 is the minimum-norm least squares, and lambda = 0 is exactly it), one column of W
// per column of Y, each with the lambda of `strengths` whose leave-one-out squared error over
// the rows is least (closed form: the i-th residual over 1 - H_ii; a lambda at which some
// H_ii = 1 cannot be judged and is passed over; ties go to the first listed). One row: lambda 0.
Eigen::MatrixXd ridge_loo(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y,
                          const std::vector<double>& strengths = ridge_strengths());

// The fit `method` makes of the rows X, Y (least_squares_min_norm or ridge_loo).
Eigen::MatrixXd fit_coefficients(FitMethod method, const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y);

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

// Each point as the Law fitted on every other point predicts it: what the fit says about a point it
// has not seen, where R^2 on points at most as many as the coefficients is 1 by construction. As
// the AC policy fits: y min-max normalised over the points fitted (a constant y gets a unit span),
// minimum-norm least squares (fit_law), the prediction mapped back to y's units; a and c as given
// (the policy normalises them over every scored setting). Needs at least 2 points.
std::vector<double> leave_one_out_predictions(const LawModel& model, const std::vector<double>& a,
                                              const std::vector<double>& c, const std::vector<double>& y);

}  // namespace acsweep::law
