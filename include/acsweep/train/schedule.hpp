#pragma once
// The learning-rate schedule of the LLaVA-1.5 recipe: linear warmup over ceil(ratio * steps)
// steps, then cosine decay to zero (transformers' get_cosine_schedule_with_warmup).
#include <cmath>
#include <cstdint>

namespace acsweep::train {

inline std::int64_t warmup_steps(std::int64_t total_steps, double warmup_ratio) {
  return static_cast<std::int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
}

// The rate for optimizer step `step` (0-based) of `total_steps`.
inline double cosine_with_warmup(std::int64_t step, std::int64_t total_steps, std::int64_t warmup,
                                 double peak) {
  if (step < warmup)
    return peak * static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup));
  const double progress = static_cast<double>(step - warmup) /
                          static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup));
  return peak * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
}

}  // namespace acsweep::train
