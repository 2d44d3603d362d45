#include "acsweep/law/ac_policy.hpp"

#include <stdexcept>

namespace acsweep::law {

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

  out.ranking = rank_descending(out.score);
  return out;
}

}  // namespace acsweep::law
