#include "acsweep/models/sd3_transformer.hpp"

#include <stdexcept>

#include "acsweep/models/attention.hpp"
#include "acsweep/models/diffusion_blocks.hpp"
#include "acsweep/models/linear.hpp"
#include "acsweep/models/torch_weights.hpp"

namespace acsweep::models {
namespace {

constexpr std::int64_t kTimestepChannels = 256;  // CombinedTimestepTextProjEmbeddings' sinusoid
constexpr double kEps = 1e-6;                    // every norm of the MMDiT block

torch::nn::Linear dense(std::int64_t in, std::int64_t out) { return torch::nn::Linear(in, out); }

// x * (1 + scale) + shift, the conditioning broadcast over the tokens.
torch::Tensor modulate(const torch::Tensor& x, const torch::Tensor& shift, const torch::Tensor& scale) {
  return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1);
}

torch::Tensor plain_norm(const torch::Tensor& x) { return torch::layer_norm(x, {x.size(-1)}, {}, {}, kEps); }

// diffusers' RMSNorm over each head's channels, with a learned scale.
class HeadRMSNormImpl : public torch::nn::Module {
 public:
  explicit HeadRMSNormImpl(std::int64_t dim) { weight_ = register_parameter("weight", torch::ones({dim})); }
  torch::Tensor forward(const torch::Tensor& x) {
    return x * torch::rsqrt(x.to(torch::kFloat32).pow(2).mean(-1, true) + kEps) * weight_;
  }

 private:
  torch::Tensor weight_;
};
TORCH_MODULE(HeadRMSNorm);

// One stream's projections in a joint attention: q, k, v (and their RMS norms where configured).
struct Stream {
  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr};
  HeadRMSNorm norm_q{nullptr}, norm_k{nullptr};
};

Stream register_stream(torch::nn::Module& m, std::int64_t D, bool rms, const char* q, const char* k,
                       const char* v, const char* nq, const char* nk, std::int64_t head_dim) {
  Stream s;
  s.q = m.register_module(q, dense(D, D));
  s.k = m.register_module(k, dense(D, D));
  s.v = m.register_module(v, dense(D, D));
  if (rms) {
    s.norm_q = m.register_module(nq, HeadRMSNorm(head_dim));
    s.norm_k = m.register_module(nk, HeadRMSNorm(head_dim));
  }
  return s;
}

// diffusers' Attention with JointAttnProcessor2_0: the image tokens and (where given) the text tokens
// projected by their own weights, concatenated (image first) into one attention, split again, and
// projected out by each stream's own output layer (the text's only where a later block reads it).
class JointAttentionImpl : public torch::nn::Module {
 public:
  JointAttentionImpl(std::int64_t D, std::int64_t heads, bool rms, bool with_context, bool context_out)
      : heads_(heads) {
    const auto d = D / heads;
    image_ = register_stream(*this, D, rms, "to_q", "to_k", "to_v", "norm_q", "norm_k", d);
    auto out = register_module("to_out", torch::nn::ModuleList());
    to_out_ = dense(D, D);
    out->push_back(to_out_);
    if (with_context)
      text_ = register_stream(*this, D, rms, "add_q_proj", "add_k_proj", "add_v_proj", "norm_added_q",
                              "norm_added_k", d);
    if (context_out) to_add_out_ = register_module("to_add_out", dense(D, D));
  }

  // -> the image tokens' output and (with a context) the text tokens' (projected out if built).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x, const torch::Tensor& context = {}) {
    const auto B = x.size(0), D = x.size(2), d = D / heads_;
    const auto heads = [&](const torch::Tensor& t, HeadRMSNorm norm) {
      auto h = t.view({B, t.size(1), heads_, d}).transpose(1, 2);
      return norm ? norm(h) : h;
    };
    torch::Tensor q = heads(linear(image_.q, x), image_.norm_q);
    torch::Tensor k = heads(linear(image_.k, x), image_.norm_k);
    torch::Tensor v = heads(linear(image_.v, x), nullptr);
    if (context.defined()) {
      q = torch::cat({q, heads(linear(text_.q, context), text_.norm_q)}, 2);
      k = torch::cat({k, heads(linear(text_.k, context), text_.norm_k)}, 2);
      v = torch::cat({v, heads(linear(text_.v, context), nullptr)}, 2);
    }
    const auto out = attention(q, k, v, /*causal=*/false).transpose(1, 2).reshape({B, -1, D});
    const auto image = linear(to_out_, out.slice(1, 0, x.size(1)));
    if (!context.defined()) return {image, {}};
    auto text = out.slice(1, x.size(1));
    return {image, to_add_out_ ? linear(to_add_out_, text) : text};
  }

 private:
  Stream image_, text_;
  torch::nn::Linear to_out_{nullptr}, to_add_out_{nullptr};
  std::int64_t heads_;
};
TORCH_MODULE(JointAttention);

}  // namespace

// diffusers' JointTransformerBlock. The last block of the model reads the text tokens without
// updating them (context_pre_only: a continuous adaptive norm, no text output or feed-forward).
class JointBlockImpl : public torch::nn::Module {
 public:
  JointBlockImpl(const SD3Config& c, bool context_pre_only, bool dual)
      : context_pre_only_(context_pre_only), dual_(dual) {
    const auto D = c.width();
    auto norm1 = register_module("norm1", std::make_shared<torch::nn::Module>());
    modulation_ = norm1->register_module("linear", dense(D, (dual ? 9 : 6) * D));
    auto norm1_context = register_module("norm1_context", std::make_shared<torch::nn::Module>());
    context_modulation_ = norm1_context->register_module("linear", dense(D, (context_pre_only ? 2 : 6) * D));
    attn_ = register_module("attn", JointAttention(D, c.heads, c.qk_rms_norm, true, !context_pre_only));
    if (dual) attn2_ = register_module("attn2", JointAttention(D, c.heads, c.qk_rms_norm, false, false));
    ff_ = register_feed_forward(*this, D, 4 * D, 4 * D);
    if (!context_pre_only) ff_context_ = register_feed_forward(*this, D, 4 * D, 4 * D, "ff_context");
  }

  // x: image tokens, context: text tokens, temb: [B, D] -> (image, text) after the block; the text is
  // undefined after a context_pre_only block.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x, const torch::Tensor& context,
                                                  const torch::Tensor& temb) {
    const auto condition = torch::silu(temb);
    const auto m = linear(modulation_, condition).chunk(dual_ ? 9 : 6, 1);
    const auto c = linear(context_modulation_, condition).chunk(context_pre_only_ ? 2 : 6, 1);
    const auto normed = plain_norm(x);
    // The continuous norm gives (scale, shift); the zero norm (shift, scale, gate) for attention and MLP.
    const auto normed_context = context_pre_only_ ? modulate(plain_norm(context), c[1], c[0])
                                                  : modulate(plain_norm(context), c[0], c[1]);
    auto [attn, context_attn] = attn_(modulate(normed, m[0], m[1]), normed_context);
    auto h = x + m[2].unsqueeze(1) * attn;
    if (dual_) h = h + m[8].unsqueeze(1) * attn2_(modulate(normed, m[6], m[7])).first;
    h = h + m[5].unsqueeze(1) * feed_forward(ff_, modulate(plain_norm(h), m[3], m[4]));
    if (context_pre_only_) return {h, {}};
    auto t = context + c[2].unsqueeze(1) * context_attn;
    t = t + c[5].unsqueeze(1) * feed_forward(ff_context_, modulate(plain_norm(t), c[3], c[4]));
    return {h, t};
  }

 private:
  static torch::Tensor feed_forward(const FeedForwardLayers& ff, const torch::Tensor& x) {
    return linear(ff.out, torch::gelu(linear(ff.in, x), "tanh"));
  }

  bool context_pre_only_, dual_;
  torch::nn::Linear modulation_{nullptr}, context_modulation_{nullptr};
  JointAttention attn_{nullptr}, attn2_{nullptr};
  FeedForwardLayers ff_, ff_context_;
};

SD3TransformerImpl::SD3TransformerImpl(const SD3Config& config, std::int64_t last_block) : config_(config) {
  if (last_block < 0 || last_block >= config.layers)
    throw std::invalid_argument("SD3 block " + std::to_string(last_block) + " outside 0.." +
                                std::to_string(config.layers - 1));
  const auto D = config.width();
  auto pos_embed = register_module("pos_embed", std::make_shared<torch::nn::Module>());
  proj_ = pos_embed->register_module(
      "proj",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(config.in_channels, D, config.patch_size).stride(config.patch_size)));
  // Saved with the weights (learned, or diffusers' sine-cosine grid stored as a persistent buffer).
  positions_ = pos_embed->register_parameter(
      "pos_embed", torch::zeros({1, config.pos_embed_max_size * config.pos_embed_max_size, D}),
      /*requires_grad=*/false);
  auto time_text = register_module("time_text_embed", std::make_shared<torch::nn::Module>());
  timestep_embedder_ = register_embedding_mlp(*time_text, "timestep_embedder", kTimestepChannels, D);
  text_embedder_ = register_embedding_mlp(*time_text, "text_embedder", config.pooled_projection_dim, D);
  context_embedder_ = register_module("context_embedder", dense(config.joint_attention_dim, D));
  auto list = register_module("transformer_blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i <= last_block; ++i) {
    blocks_.push_back(
        JointBlock(config, i == config.layers - 1, config.dual_attention[static_cast<std::size_t>(i)]));
    list->push_back(blocks_.back());
  }
}

void SD3TransformerImpl::load(const SafetensorsFolder& weights) { load_parameters(*this, weights); }

torch::Tensor SD3TransformerImpl::block_output(const torch::Tensor& latents, const torch::Tensor& timesteps,
                                               const torch::Tensor& context, const torch::Tensor& pooled) {
  const auto P = config_.patch_size, D = config_.width(), max = config_.pos_embed_max_size;
  const auto gh = latents.size(2) / P, gw = latents.size(3) / P;
  if (gh > max || gw > max)
    throw std::invalid_argument("SD3: a " + std::to_string(gh) + " x " + std::to_string(gw) +
                                " patch grid is wider than the " + std::to_string(max) +
                                " learned positions");
  // The learned positions of the grid's centre, as PatchEmbed.cropped_pos_embed.
  const auto top = (max - gh) / 2, left = (max - gw) / 2;
  const auto positions = positions_.view({max, max, D})
                             .slice(0, top, top + gh)
                             .slice(1, left, left + gw)
                             .reshape({1, gh * gw, D});
  auto x = proj_(latents).flatten(2).transpose(1, 2) + positions;
  const auto t = timestep_embedding(timesteps, kTimestepChannels, /*flip_sin_to_cos=*/true, /*freq_shift=*/0);
  const auto temb = timestep_embedder_(t) + text_embedder_(pooled);
  auto c = linear(context_embedder_, context);
  for (auto& block : blocks_) std::tie(x, c) = block->forward(x, c, temb);
  return x.transpose(1, 2).reshape({x.size(0), D, gh, gw});
}

}  // namespace acsweep::models
