#include "acsweep/models/autoencoder_kl.hpp"

#include "acsweep/models/torch_weights.hpp"

namespace acsweep::models {
namespace {
constexpr double kEps = 1e-6;  // the VAE's group norms
}

AutoencoderKLEncoderImpl::AutoencoderKLEncoderImpl(const AutoencoderConfig& config) : config_(config) {
  const auto& ch = config.block_out_channels;
  const auto groups = config.norm_num_groups;
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  conv_in_ = encoder->register_module(
      "conv_in", torch::nn::Conv2d(torch::nn::Conv2dOptions(config.in_channels, ch.front(), 3).padding(1)));
  down_blocks_ = encoder->register_module("down_blocks", torch::nn::ModuleList());
  std::int64_t in = ch.front();
  for (std::size_t i = 0; i < ch.size(); ++i) {
    auto block = std::make_shared<torch::nn::Module>();
    auto resnets = block->register_module("resnets", torch::nn::ModuleList());
    resnets_.emplace_back();
    for (std::int64_t j = 0; j < config.layers_per_block; ++j) {
      resnets_.back().push_back(ResnetBlock2D(j == 0 ? in : ch[i], ch[i], 0, groups, kEps));
      resnets->push_back(resnets_.back().back());
    }
    if (i + 1 < ch.size()) {
      downsamplers_.push_back(Downsample2D(ch[i], 0));
      block->register_module("downsamplers", torch::nn::ModuleList())->push_back(downsamplers_.back());
    }
    down_blocks_->push_back(block);
    in = ch[i];
  }
  auto mid = encoder->register_module("mid_block", std::make_shared<torch::nn::Module>());
  auto mid_resnets = mid->register_module("resnets", torch::nn::ModuleList());
  mid_resnet0_ = ResnetBlock2D(in, in, 0, groups, kEps);
  mid_resnet1_ = ResnetBlock2D(in, in, 0, groups, kEps);
  mid_resnets->push_back(mid_resnet0_);
  mid_resnets->push_back(mid_resnet1_);
  if (config.mid_block_add_attention) {
    mid_attention_ = SpatialSelfAttention(in, groups, kEps);
    mid->register_module("attentions", torch::nn::ModuleList())->push_back(mid_attention_);
  }
  conv_norm_out_ = encoder->register_module(
      "conv_norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, in).eps(kEps)));
  const auto moments = 2 * config.latent_channels;
  conv_out_ = encoder->register_module(
      "conv_out", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, moments, 3).padding(1)));
  if (config.use_quant_conv)
    quant_conv_ =
        register_module("quant_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(moments, moments, 1)));
}

void AutoencoderKLEncoderImpl::load(const SafetensorsFolder& weights) { load_parameters(*this, weights); }

torch::Tensor AutoencoderKLEncoderImpl::latents(const torch::Tensor& pixels) {
  auto h = conv_in_(pixels);
  for (std::size_t i = 0; i < resnets_.size(); ++i) {
    for (auto& resnet : resnets_[i]) h = resnet(h);
    if (i < downsamplers_.size()) h = downsamplers_[i](h);
  }
  h = mid_resnet0_(h);
  if (mid_attention_) h = mid_attention_(h);
  h = mid_resnet1_(h);
  h = conv_out_(torch::silu(conv_norm_out_(h)));
  if (quant_conv_) h = quant_conv_(h);
  const auto mean = h.slice(1, 0, config_.latent_channels);
  return (mean - config_.shift_factor) * config_.scaling_factor;
}

}  // namespace acsweep::models
