#include "acsweep/models/dit_transformer.hpp"

#include <stdexcept>

#include "acsweep/models/diffusion_blocks.hpp"
#include "acsweep/models/linear.hpp"
#include "acsweep/models/torch_weights.hpp"

namespace acsweep::models {
namespace {

constexpr std::int64_t kTimestepChannels = 256;  // CombinedTimestepLabelEmbeddings' sinusoid

// 1-D sine-cosine embedding of positions (float64, as diffusers computes it): [M, dim].
torch::Tensor sincos_1d(std::int64_t dim, const torch::Tensor& positions) {
  auto omega = torch::arange(dim / 2, torch::kFloat64) / (static_cast<double>(dim) / 2.0);
  omega = 1.0 / torch::pow(10000.0, omega);
  const auto out = torch::outer(positions.reshape({-1}).to(torch::kFloat64), omega);
  return torch::cat({torch::sin(out), torch::cos(out)}, 1);
}

torch::nn::LayerNorm plain_norm(std::int64_t dim, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps).elementwise_affine(false));
}

}  // namespace

torch::Tensor sincos_positions(std::int64_t dim, std::int64_t gh, std::int64_t gw, std::int64_t base_size) {
  const auto f32 = torch::dtype(torch::kFloat32);
  const auto rows = torch::arange(gh, f32) / (static_cast<double>(gh) / static_cast<double>(base_size));
  const auto cols = torch::arange(gw, f32) / (static_cast<double>(gw) / static_cast<double>(base_size));
  // Token (i, j) of the row-major grid: the column's embedding first, then the row's.
  const auto col_of_token = cols.unsqueeze(0).expand({gh, gw});
  const auto row_of_token = rows.unsqueeze(1).expand({gh, gw});
  return torch::cat({sincos_1d(dim / 2, col_of_token), sincos_1d(dim / 2, row_of_token)}, 1)
      .to(torch::kFloat32);
}

class DiTBlockImpl : public torch::nn::Module {
 public:
  DiTBlockImpl(const DiTConfig& c, bool null_class) : null_class_(c.num_classes) {
    const auto D = c.width();
    auto norm1 = register_module("norm1", std::make_shared<torch::nn::Module>());
    auto emb = norm1->register_module("emb", std::make_shared<torch::nn::Module>());
    timestep_embedder_ = register_embedding_mlp(*emb, "timestep_embedder", kTimestepChannels, D);
    if (null_class) {  // the table's extra last row, which label dropout trained
      auto labels = emb->register_module("class_embedder", std::make_shared<torch::nn::Module>());
      labels_ = labels->register_module("embedding_table", torch::nn::Embedding(c.num_classes + 1, D));
    }
    modulation_ = norm1->register_module("linear", torch::nn::Linear(D, 6 * D));
    norm_msa_ = plain_norm(D, 1e-6);  // AdaLayerNormZero's own
    norm_mlp_ = plain_norm(D, c.norm_eps);
    attn1_ = register_module("attn1", DiffusionAttention(D, D, c.heads, c.head_dim, /*qkv_bias=*/true));
    ff_ = register_feed_forward(*this, D, 4 * D, 4 * D);
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& timestep_features) {
    auto emb = timestep_embedder_(timestep_features);
    if (labels_) emb = emb + labels_->weight[null_class_].unsqueeze(0);
    const auto m = linear(modulation_, torch::silu(emb)).chunk(6, 1);
    const auto modulate = [](const torch::Tensor& h, const torch::Tensor& shift, const torch::Tensor& scale) {
      return h * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1);
    };
    auto h = x + m[2].unsqueeze(1) * attn1_(modulate(norm_msa_(x), m[0], m[1]));
    const auto inner = torch::gelu(linear(ff_.in, modulate(norm_mlp_(h), m[3], m[4])), "tanh");
    return h + m[5].unsqueeze(1) * linear(ff_.out, inner);
  }

 private:
  std::int64_t null_class_;
  torch::nn::Embedding labels_{nullptr};
  EmbeddingMlp timestep_embedder_;
  torch::nn::Linear modulation_{nullptr};
  FeedForwardLayers ff_;
  torch::nn::LayerNorm norm_msa_{nullptr}, norm_mlp_{nullptr};
  DiffusionAttention attn1_{nullptr};
};

DiTTransformerImpl::DiTTransformerImpl(const DiTConfig& config, std::int64_t last_block, bool null_class)
    : config_(config) {
  if (last_block < 0 || last_block >= config.layers)
    throw std::invalid_argument("DiT block " + std::to_string(last_block) + " outside 0.." +
                                std::to_string(config.layers - 1));
  auto pos_embed = register_module("pos_embed", std::make_shared<torch::nn::Module>());
  proj_ = pos_embed->register_module(
      "proj",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(config.in_channels, config.width(), config.patch_size)
                            .stride(config.patch_size)));
  auto list = register_module("transformer_blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i <= last_block; ++i) {
    blocks_.push_back(DiTBlock(config, null_class));
    list->push_back(blocks_.back());
  }
}

void DiTTransformerImpl::load(const SafetensorsFolder& weights) { load_parameters(*this, weights); }

torch::Tensor DiTTransformerImpl::block_output(const torch::Tensor& latents, const torch::Tensor& timesteps) {
  const auto P = config_.patch_size, D = config_.width();
  const auto gh = latents.size(2) / P, gw = latents.size(3) / P;
  auto x = proj_(latents).flatten(2).transpose(1, 2);
  x = x + sincos_positions(D, gh, gw, config_.sample_size / P).to(x.device()).unsqueeze(0);
  const auto t = timestep_embedding(timesteps, kTimestepChannels, /*flip_sin_to_cos=*/true, /*freq_shift=*/1);
  for (auto& block : blocks_) x = block->forward(x, t);
  return x.transpose(1, 2).reshape({x.size(0), D, gh, gw});
}

}  // namespace acsweep::models
