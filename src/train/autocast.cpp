#include "acsweep/train/autocast.hpp"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace acsweep::train {
namespace {

// One autocast API for every device type (torch >= 2.4; the build requires LibTorch 2).
bool enabled(bool cuda) { return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU); }
void set_enabled(bool cuda, bool on) { at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, on); }
at::ScalarType dtype(bool cuda) { return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU); }
void set_dtype(bool cuda, at::ScalarType type) {
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, type);
}

}  // namespace

Bf16Autocast::Bf16Autocast(const torch::Device& device, bool enabled_here)
    : active_(enabled_here), cuda_(device.is_cuda()) {
  if (!active_) return;
  was_enabled_ = enabled(cuda_);
  was_dtype_ = dtype(cuda_);
  set_dtype(cuda_, at::kBFloat16);
  set_enabled(cuda_, true);
  at::autocast::increment_nesting();
}

Bf16Autocast::~Bf16Autocast() {
  if (!active_) return;
  // The casts of the weights are cached for the scope; leaving the outermost one drops them.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_enabled(cuda_, was_enabled_);
  set_dtype(cuda_, was_dtype_);
}

}  // namespace acsweep::train
