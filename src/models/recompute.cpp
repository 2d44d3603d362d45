#include "acsweep/models/recompute.hpp"

#include <ATen/autocast_mode.h>

#include <optional>

namespace acsweep::models {
namespace {

using Block = std::function<torch::Tensor(const torch::Tensor&)>;

// What the backward pass needs besides the saved input: the block, and the autocast state of the
// forward pass (the backward runs outside its scope), for the device types acsweep uses.
struct Recompute : torch::CustomClassHolder {
  Block block;
  std::vector<torch::Tensor> parameters;  // the block's, which the recompute differentiates
  std::optional<GatheredWeights> gathered;
  bool cpu_autocast = false, cuda_autocast = false;
  at::ScalarType cpu_dtype = at::kBFloat16, cuda_dtype = at::kBFloat16;
};

// Restores a recorded autocast state for a scope.
class AutocastAs {
 public:
  explicit AutocastAs(const Recompute& r)
      : cpu_(at::autocast::is_autocast_enabled(at::kCPU)),
        cuda_(at::autocast::is_autocast_enabled(at::kCUDA)),
        cpu_dtype_(at::autocast::get_autocast_dtype(at::kCPU)),
        cuda_dtype_(at::autocast::get_autocast_dtype(at::kCUDA)) {
    set(r.cpu_autocast, r.cuda_autocast, r.cpu_dtype, r.cuda_dtype);
    at::autocast::increment_nesting();
  }
  ~AutocastAs() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set(cpu_, cuda_, cpu_dtype_, cuda_dtype_);
  }
  AutocastAs(const AutocastAs&) = delete;
  AutocastAs& operator=(const AutocastAs&) = delete;

 private:
  static void set(bool cpu, bool cuda, at::ScalarType cpu_dtype, at::ScalarType cuda_dtype) {
    at::autocast::set_autocast_dtype(at::kCPU, cpu_dtype);
    at::autocast::set_autocast_dtype(at::kCUDA, cuda_dtype);
    at::autocast::set_autocast_enabled(at::kCPU, cpu);
    at::autocast::set_autocast_enabled(at::kCUDA, cuda);
  }
  bool cpu_, cuda_;
  at::ScalarType cpu_dtype_, cuda_dtype_;
};

// Gathered weights whole for a scope (nothing to do without them): gathered at its start,
// released at its end (also on a throw), with autocast's cache of weight casts off, so that no
// bf16 copy of a gathered weight outlives its release (nor is taken for the next gather's).
class WholeWeights {
 public:
  explicit WholeWeights(const std::optional<GatheredWeights>& gathered)
      : gathered_(gathered ? &*gathered : nullptr), cache_was_(at::autocast::is_autocast_cache_enabled()) {
    if (!gathered_) return;
    at::autocast::set_autocast_cache_enabled(false);
    try {
      gathered_->gather();
    } catch (...) {
      at::autocast::set_autocast_cache_enabled(cache_was_);
      throw;
    }
  }
  ~WholeWeights() {
    if (!gathered_) return;
    gathered_->release();
    at::autocast::set_autocast_cache_enabled(cache_was_);
  }
  WholeWeights(const WholeWeights&) = delete;
  WholeWeights& operator=(const WholeWeights&) = delete;

 private:
  const GatheredWeights* gathered_;
  bool cache_was_;
};

torch::Tensor run_whole(const Recompute& r, const torch::Tensor& input) {
  const WholeWeights whole(r.gathered);
  return r.block(input);
}

class Checkpoint : public torch::autograd::Function<Checkpoint> {
 public:
  // `inputs`: what autograd differentiates besides `input`: the parameters, or the gathered shard.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               at::TensorList /*inputs*/, const c10::intrusive_ptr<Recompute>& recompute) {
    ctx->save_for_backward({input});
    ctx->saved_data["recompute"] = c10::IValue::make_capsule(recompute);
    // autograd's apply runs this without grad mode: nothing is kept
    return run_whole(*recompute, input);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_output) {
    const auto recompute =
        c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data["recompute"].toCapsule());
    const auto& parameters = recompute->parameters;
    const torch::Tensor input = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    std::vector<torch::Tensor> wrt{input};
    for (const auto& p : parameters)
      if (p.requires_grad()) wrt.push_back(p);
    torch::autograd::variable_list grads;
    {
      const WholeWeights whole(recompute->gathered);  // released before the gradients are reduced
      torch::Tensor output;
      {
        const torch::AutoGradMode grad_on(true);
        const AutocastAs autocast(*recompute);
        output = recompute->block(input);
      }
      grads = torch::autograd::grad({output}, wrt, {grad_output[0]}, /*retain_graph=*/false,
                                    /*create_graph=*/false, /*allow_unused=*/true);
    }
    std::vector<torch::Tensor> per_parameter;  // none where frozen
    std::size_t next = 1;
    for (const auto& p : parameters)
      per_parameter.push_back(p.requires_grad() ? grads[next++] : torch::Tensor());
    // One gradient per input of forward: the input, each parameter or the gathered shard, and
    // none for the block.
    torch::autograd::variable_list out{grads[0]};
    if (recompute->gathered)
      out.push_back(recompute->gathered->reduce(per_parameter));
    else
      out.insert(out.end(), per_parameter.begin(), per_parameter.end());
    out.emplace_back();
    return out;
  }
};

}  // namespace

torch::Tensor recomputed(const Block& block, const torch::Tensor& input,
                         const std::vector<torch::Tensor>& parameters, const GatheredWeights* gathered) {
  auto recompute = c10::make_intrusive<Recompute>();
  recompute->block = block;
  if (gathered) recompute->gathered = *gathered;
  if (!torch::GradMode::is_enabled()) return run_whole(*recompute, input);
  recompute->parameters = parameters;
  recompute->cpu_autocast = at::autocast::is_autocast_enabled(at::kCPU);
  recompute->cuda_autocast = at::autocast::is_autocast_enabled(at::kCUDA);
  recompute->cpu_dtype = at::autocast::get_autocast_dtype(at::kCPU);
  recompute->cuda_dtype = at::autocast::get_autocast_dtype(at::kCUDA);
  if (gathered) return Checkpoint::apply(input, at::TensorList(&gathered->shard, 1), recompute);
  return Checkpoint::apply(input, at::TensorList(parameters), recompute);
}

}  // namespace acsweep::models
