#include "acsweep/models/diffusion_blocks.hpp"

#include <cmath>

#include "acsweep/models/attention.hpp"
#include "acsweep/models/linear.hpp"

namespace acsweep::models {
namespace {

torch::nn::GroupNorm group_norm(std::int64_t groups, std::int64_t channels, double eps) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(eps));
}

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1,
                       std::int64_t padding = 0) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

// silu of a tensor the caller made and holds nowhere else: in place where no graph is recorded (the
// features are computed without gradients), so that it costs no second tensor of its size.
torch::Tensor silu_of_temporary(torch::Tensor t) {
  return torch::GradMode::is_enabled() ? torch::silu(t) : torch::silu_(t);
}

// A module list whose entry 0 is `layer` (diffusers' to_out.0, ff.net.0): the names stay its own.
template <typename Layer>
Layer first_of_list(torch::nn::Module& parent, const std::string& name, Layer layer) {
  auto list = parent.register_module(name, torch::nn::ModuleList());
  list->push_back(layer);
  return layer;
}

}  // namespace

ResnetBlock2DImpl::ResnetBlock2DImpl(std::int64_t in, std::int64_t out, std::int64_t temb_channels,
                                     std::int64_t groups, double eps, double output_scale_factor)
    : output_scale_factor_(output_scale_factor) {
  norm1_ = register_module("norm1", group_norm(groups, in, eps));
  conv1_ = register_module("conv1", conv(in, out, 3, 1, 1));
  if (temb_channels > 0)
    time_emb_proj_ = register_module("time_emb_proj", torch::nn::Linear(temb_channels, out));
  norm2_ = register_module("norm2", group_norm(groups, out, eps));
  conv2_ = register_module("conv2", conv(out, out, 3, 1, 1));
  if (in != out) conv_shortcut_ = register_module("conv_shortcut", conv(in, out, 1));
}

// Each temporary is released as soon as the next one is made: at a VAE's full resolution (the
// largest tensors of a diffusion feature pass) the block holds its input and at most two tensors of
// its size at a time, not five (diffusion_activation_bytes counts this).
torch::Tensor ResnetBlock2DImpl::forward(const torch::Tensor& x, const torch::Tensor& temb) {
  auto h = conv1_(silu_of_temporary(norm1_(x)));
  if (time_emb_proj_ && temb.defined())
    h = h + linear(time_emb_proj_, torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);
  auto normed = silu_of_temporary(norm2_(h));
  h.reset();
  h = conv2_(normed);
  normed.reset();
  const auto shortcut = conv_shortcut_ ? conv_shortcut_(x) : x;
  h = torch::GradMode::is_enabled() ? shortcut + h : h.add_(shortcut);
  return output_scale_factor_ == 1 ? h : h / output_scale_factor_;
}

Downsample2DImpl::Downsample2DImpl(std::int64_t channels, std::int64_t padding) : padding_(padding) {
  conv_ = register_module("conv", conv(channels, channels, 3, 2, padding));
}

torch::Tensor Downsample2DImpl::forward(const torch::Tensor& x) {
  if (padding_ == 0) return conv_(torch::constant_pad_nd(x, {0, 1, 0, 1}, 0));
  return conv_(x);
}

Upsample2DImpl::Upsample2DImpl(std::int64_t channels) {
  conv_ = register_module("conv", conv(channels, channels, 3, 1, 1));
}

torch::Tensor Upsample2DImpl::forward(const torch::Tensor& x, c10::optional<std::vector<std::int64_t>> size) {
  namespace F = torch::nn::functional;
  auto options = F::InterpolateFuncOptions().mode(torch::kNearest);
  if (size)
    options.size(*size);
  else
    options.scale_factor(std::vector<double>{2.0, 2.0});
  return conv_(F::interpolate(x, options));
}

DiffusionAttentionImpl::DiffusionAttentionImpl(std::int64_t query_dim, std::int64_t context_dim,
                                               std::int64_t heads, std::int64_t head_dim, bool qkv_bias)
    : heads_(heads) {
  const auto inner = heads * head_dim;
  to_q_ =
      register_module("to_q", torch::nn::Linear(torch::nn::LinearOptions(query_dim, inner).bias(qkv_bias)));
  to_k_ =
      register_module("to_k", torch::nn::Linear(torch::nn::LinearOptions(context_dim, inner).bias(qkv_bias)));
  to_v_ =
      register_module("to_v", torch::nn::Linear(torch::nn::LinearOptions(context_dim, inner).bias(qkv_bias)));
  to_out_ = first_of_list(*this, "to_out", torch::nn::Linear(inner, query_dim));
}

torch::Tensor DiffusionAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  const auto& kv = context.defined() ? context : x;
  const auto q = linear(to_q_, x), k = linear(to_k_, kv), v = linear(to_v_, kv);
  const auto B = x.size(0), inner = q.size(2), d = inner / heads_;
  const auto split = [&](const torch::Tensor& t) {
    return t.view({B, t.size(1), heads_, d}).transpose(1, 2);
  };
  const auto out = attention(split(q), split(k), split(v), /*causal=*/false);
  return linear(to_out_, out.transpose(1, 2).reshape({B, x.size(1), inner}));
}

SpatialSelfAttentionImpl::SpatialSelfAttentionImpl(std::int64_t channels, std::int64_t groups, double eps) {
  group_norm_ = register_module("group_norm", group_norm(groups, channels, eps));
  // The attention's own names sit beside group_norm (attentions.0.to_q ...), not under a child.
  attention_ = DiffusionAttention(channels, channels, 1, channels, /*qkv_bias=*/true);
  for (const auto& item : attention_->named_children()) register_module(item.key(), item.value());
}

torch::Tensor SpatialSelfAttentionImpl::forward(const torch::Tensor& x) {
  const auto B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const auto tokens = group_norm_(x).view({B, C, H * W}).transpose(1, 2);
  return x + attention_->forward(tokens).transpose(1, 2).reshape({B, C, H, W});
}

BasicTransformerBlockImpl::BasicTransformerBlockImpl(std::int64_t dim, std::int64_t heads,
                                                     std::int64_t head_dim, std::int64_t context_dim) {
  const auto norm = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5)); };
  norm1_ = register_module("norm1", norm());
  attn1_ = register_module("attn1", DiffusionAttention(dim, dim, heads, head_dim, false));
  norm2_ = register_module("norm2", norm());
  attn2_ = register_module("attn2", DiffusionAttention(dim, context_dim, heads, head_dim, false));
  norm3_ = register_module("norm3", norm());
  ff_ = register_feed_forward(*this, dim, 8 * dim, 4 * dim);  // GEGLU: twice the inner width
}

FeedForwardLayers register_feed_forward(torch::nn::Module& parent, std::int64_t dim, std::int64_t projected,
                                        std::int64_t inner, const std::string& name) {
  auto ff = parent.register_module(name, std::make_shared<torch::nn::Module>());
  auto net = ff->register_module("net", torch::nn::ModuleList());
  auto activation = std::make_shared<torch::nn::Module>();
  FeedForwardLayers layers;
  layers.in = activation->register_module("proj", torch::nn::Linear(dim, projected));
  net->push_back(activation);
  net->push_back(torch::nn::Dropout(0.0));
  layers.out = torch::nn::Linear(inner, dim);
  net->push_back(layers.out);
  return layers;
}

torch::Tensor BasicTransformerBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  auto h = x + attn1_(norm1_(x));
  h = h + attn2_(norm2_(h), context);
  const auto parts = linear(ff_.in, norm3_(h)).chunk(2, -1);
  return h + linear(ff_.out, parts[0] * torch::gelu(parts[1]));
}

Transformer2DImpl::Transformer2DImpl(std::int64_t channels, std::int64_t heads, std::int64_t layers,
                                     std::int64_t context_dim, std::int64_t groups, bool linear_projection) {
  norm_ = register_module("norm", group_norm(groups, channels, 1e-6));
  if (linear_projection)
    proj_in_linear_ = register_module("proj_in", torch::nn::Linear(channels, channels));
  else
    proj_in_conv_ = register_module("proj_in", conv(channels, channels, 1));
  blocks_ = register_module("transformer_blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < layers; ++i)
    blocks_->push_back(BasicTransformerBlock(channels, heads, channels / heads, context_dim));
  if (linear_projection)
    proj_out_linear_ = register_module("proj_out", torch::nn::Linear(channels, channels));
  else
    proj_out_conv_ = register_module("proj_out", conv(channels, channels, 1));
}

torch::Tensor Transformer2DImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  const auto B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto h = norm_(x);
  if (proj_in_conv_) h = proj_in_conv_(h);
  h = h.permute({0, 2, 3, 1}).reshape({B, H * W, C});
  if (proj_in_linear_) h = linear(proj_in_linear_, h);
  for (const auto& block : *blocks_) h = block->as<BasicTransformerBlock>()->forward(h, context);
  if (proj_out_linear_) h = linear(proj_out_linear_, h);
  h = h.reshape({B, H, W, C}).permute({0, 3, 1, 2});
  if (proj_out_conv_) h = proj_out_conv_(h.contiguous());
  return h + x;
}

torch::Tensor EmbeddingMlp::operator()(const torch::Tensor& x) const {
  return linear(linear_2, torch::silu(linear(linear_1, x)));
}

EmbeddingMlp register_embedding_mlp(torch::nn::Module& parent, const std::string& name, std::int64_t in,
                                    std::int64_t out) {
  auto module = parent.register_module(name, std::make_shared<torch::nn::Module>());
  EmbeddingMlp mlp;
  mlp.linear_1 = module->register_module("linear_1", torch::nn::Linear(in, out));
  mlp.linear_2 = module->register_module("linear_2", torch::nn::Linear(out, out));
  return mlp;
}

torch::Tensor timestep_embedding(const torch::Tensor& timesteps, std::int64_t dim, bool flip_sin_to_cos,
                                 double freq_shift) {
  const auto half = dim / 2;
  auto exponent =
      -std::log(10000.0) * torch::arange(0, half, torch::dtype(torch::kFloat32).device(timesteps.device()));
  exponent = exponent / (static_cast<double>(half) - freq_shift);
  const auto angles = timesteps.unsqueeze(1).to(torch::kFloat32) * torch::exp(exponent).unsqueeze(0);
  auto emb = flip_sin_to_cos ? torch::cat({torch::cos(angles), torch::sin(angles)}, -1)
                             : torch::cat({torch::sin(angles), torch::cos(angles)}, -1);
  if (dim % 2 == 1) emb = torch::constant_pad_nd(emb, {0, 1, 0, 0}, 0);
  return emb;
}

}  // namespace acsweep::models
