#include "acsweep/models/recompute.hpp"

#include <ATen/autocast_mode.h>

namespace acsweep::models {
namespace {

using Block = std::function<torch::Tensor(const torch::Tensor&)>;

// What the backward pass needs besides the saved input: the block, and the autocast state of the
// forward pass (the backward runs outside its scope), for the device types acsweep uses.
struct Recompute : torch::CustomClassHolder {
  Block block;
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

class Checkpoint : public torch::autograd::Function<Checkpoint> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               at::TensorList parameters, const c10::intrusive_ptr<Recompute>& recompute) {
    ctx->save_for_backward({input});
    ctx->saved_data["recompute"] = c10::IValue::make_capsule(recompute);
    ctx->saved_data["parameters"] = std::vector<torch::Tensor>(parameters.begin(), parameters.end());
    return recompute->block(input);  // autograd's apply runs this without grad mode: nothing is kept
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_output) {
    const auto recompute =
        c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data["recompute"].toCapsule());
    const auto parameters = ctx->saved_data["parameters"].toTensorVector();
    const torch::Tensor input = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    torch::Tensor output;
    {
      const torch::AutoGradMode grad_on(true);
      const AutocastAs autocast(*recompute);
      output = recompute->block(input);
    }
    std::vector<torch::Tensor> wrt{input};
    for (const auto& p : parameters)
      if (p.requires_grad()) wrt.push_back(p);
    const auto grads = torch::autograd::grad({output}, wrt, {grad_output[0]}, /*retain_graph=*/false,
                                             /*create_graph=*/false, /*allow_unused=*/true);
    // One gradient per input of forward: the input, each parameter (none where frozen), the block.
    torch::autograd::variable_list out{grads[0]};
    std::size_t next = 1;
    for (const auto& p : parameters) out.push_back(p.requires_grad() ? grads[next++] : torch::Tensor());
    out.emplace_back();
    return out;
  }
};

}  // namespace

torch::Tensor recomputed(const Block& block, const torch::Tensor& input,
                         const std::vector<torch::Tensor>& parameters) {
  if (!torch::GradMode::is_enabled()) return block(input);
  auto recompute = c10::make_intrusive<Recompute>();
  recompute->block = block;
  recompute->cpu_autocast = at::autocast::is_autocast_enabled(at::kCPU);
  recompute->cuda_autocast = at::autocast::is_autocast_enabled(at::kCUDA);
  recompute->cpu_dtype = at::autocast::get_autocast_dtype(at::kCPU);
  recompute->cuda_dtype = at::autocast::get_autocast_dtype(at::kCUDA);
  return Checkpoint::apply(input, at::TensorList(parameters), recompute);
}

}  // namespace acsweep::models
