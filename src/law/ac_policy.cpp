#include "acsweep/law/ac_policy.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace acsweep::law {

std::size_t rank_of(const double* score, std::size_t n, std::size_t setting) {
  const double s = score[setting];
  std::size_t ahead = 0;
  for (std::size_t j = 0; j < n; ++j) ahead += score[j] > s || (score[j] == s && j < setting);
  return ahead;
}

ACPolicy::ACPolicy(std::vector<double> a, std::vector<double> c, LawModel model)
    : a_(std::move(a)), c_(std::move(c)), model_(model), sampler_(a_, c_) {}

PolicyRanking ACPolicy::rank(const std::vector<std::size_t>& finetuned,
                             const std::vector<double>& measured) const {
  if (finetuned.empty() || finetuned.size() != measured.size())
    throw std::invalid_argument("ACPolicy::rank: need one measured value per finetuned setting");
  std::vector<double> fa, fc;
  for (std::size_t i : finetuned) {
    fa.push_back(a_.at(i));
    fc.push_back(c_[i]);
  }
  PolicyRanking out;
  out.fit = fit_law(model_, fa, fc, measured);
  out.score.resize(a_.size());
  for (std::size_t i = 0; i < a_.size(); ++i) out.score[i] = out.fit.predict(a_[i], c_[i]);
  for (std::size_t k = 0; k < finetuned.size(); ++k) out.score[finetuned[k]] = measured[k];

  out.ranking.resize(a_.size());
  std::iota(out.ranking.begin(), out.ranking.end(), std::size_t{0});
  std::sort(out.ranking.begin(), out.ranking.end(), [&](std::size_t i, std::size_t j) {
    return out.score[i] > out.score[j] || (out.score[i] == out.score[j] && i < j);
  });
  return out;
}

}  // namespace acsweep::law
