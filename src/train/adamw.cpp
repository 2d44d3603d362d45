#include "acsweep/train/adamw.hpp"

#include <cmath>

namespace acsweep::train {

AdamW::AdamW(std::vector<torch::Tensor> parameters, AdamWOptions options)
    : parameters_(std::move(parameters)), options_(options) {
  for (const auto& p : parameters_) {
    m_.push_back(torch::zeros_like(p));
    v_.push_back(torch::zeros_like(p));
  }
}

void AdamW::step(double learning_rate) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(steps_));
  const double correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(steps_));
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    auto& p = parameters_[i];
    const auto& g = p.grad();
    if (!g.defined()) continue;
    p.mul_(1.0 - learning_rate * options_.weight_decay);
    m_[i].mul_(options_.beta1).add_(g, 1.0 - options_.beta1);
    v_[i].mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
    const auto denominator = (v_[i].sqrt() / std::sqrt(correction2)).add_(options_.eps);
    p.addcdiv_(m_[i], denominator, -learning_rate / correction1);
  }
}

}  // namespace acsweep::train
