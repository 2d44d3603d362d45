#pragma once
// The AC policy (LAW.md, "AC policy"): fit the Law on the finetuned settings, predict the rest,
// rank all. Finetuned settings keep their measured value.
#include <vector>

#include "acsweep/law/fit.hpp"
#include "acsweep/law/ranking.hpp"
#include "acsweep/law/region_sampler.hpp"

namespace acsweep::law {

struct PolicyRanking {
  LawFit fit;                        // on the finetuned settings
  std::vector<double> score;         // per setting: measured where finetuned, else predicted
  std::vector<std::size_t> ranking;  // every setting, best first
};

class ACPolicy {
 public:
  // a and c: min-max normalised over all settings of the search space.
  ACPolicy(std::vector<double> a, std::vector<double> c, LawModel model = {});

  const RegionSampler& sampler() const { return sampler_; }
  std::size_t size() const { return a_.size(); }

  // `measured[i]` is the (normalised) benchmark result of setting `finetuned[i]`.
  PolicyRanking rank(const std::vector<std::size_t>& finetuned, const std::vector<double>& measured) const;

 private:
  std::vector<double> a_, c_;
  LawModel model_;
  RegionSampler sampler_;
};

}  // namespace acsweep::law
