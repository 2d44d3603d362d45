#include "acsweep/models/unet2d_condition.hpp"

#include <stdexcept>

#include "acsweep/models/linear.hpp"
#include "acsweep/models/torch_weights.hpp"

namespace acsweep::models {

// A down, mid or up block: resnets each followed by a transformer (cross-attention blocks), and a
// down- or up-sampler. Up blocks concatenate a skip connection before each resnet; the mid block has
// one more resnet than transformers, first.
class UNetStageImpl : public torch::nn::Module {
 public:
  enum class Kind { down, mid, up };
  struct Shape {
    Kind kind = Kind::down;
    std::vector<std::int64_t> resnet_in;  // each resnet's input channels (skip included)
    std::int64_t out = 0, temb = 0, groups = 32, heads = 1, transformer_layers = 1, context_dim = 0;
    double eps = 1e-5, output_scale_factor = 1;
    bool attention = false, linear_projection = false, sampler = false;
    std::int64_t downsample_padding = 1;
  };

  explicit UNetStageImpl(const Shape& shape) : shape_(shape) {
    auto resnets = register_module("resnets", torch::nn::ModuleList());
    for (const auto in : shape.resnet_in) {
      resnets_.push_back(
          ResnetBlock2D(in, shape.out, shape.temb, shape.groups, shape.eps, shape.output_scale_factor));
      resnets->push_back(resnets_.back());
    }
    if (shape.attention) {
      auto attentions = register_module("attentions", torch::nn::ModuleList());
      const auto count = shape.kind == Kind::mid ? shape.resnet_in.size() - 1 : shape.resnet_in.size();
      for (std::size_t i = 0; i < count; ++i) {
        attentions_.push_back(Transformer2D(shape.out, shape.heads, shape.transformer_layers,
                                            shape.context_dim, shape.groups, shape.linear_projection));
        attentions->push_back(attentions_.back());
      }
    }
    if (shape.sampler && shape.kind == Kind::down) {
      downsampler_ = Downsample2D(shape.out, shape.downsample_padding);
      register_module("downsamplers", torch::nn::ModuleList())->push_back(downsampler_);
    } else if (shape.sampler && shape.kind == Kind::up) {
      upsampler_ = Upsample2D(shape.out);
      register_module("upsamplers", torch::nn::ModuleList())->push_back(upsampler_);
    }
  }

  std::size_t resnets() const { return resnets_.size(); }

  // Down: x -> x, with every intermediate output appended to `skips`.
  torch::Tensor down(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
                     std::vector<torch::Tensor>& skips) {
    for (std::size_t i = 0; i < resnets_.size(); ++i) {
      x = resnets_[i](x, temb);
      if (!attentions_.empty()) x = attentions_[i](x, context);
      skips.push_back(x);
    }
    if (downsampler_) {
      x = downsampler_(x);
      skips.push_back(x);
    }
    return x;
  }

  torch::Tensor mid(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context) {
    x = resnets_[0](x, temb);
    for (std::size_t i = 0; i < attentions_.size(); ++i)
      x = resnets_[i + 1](attentions_[i](x, context), temb);
    return x;
  }

  // Up: consumes one skip per resnet from the back of `skips`.
  torch::Tensor up(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
                   std::vector<torch::Tensor>& skips, c10::optional<std::vector<std::int64_t>> size) {
    for (std::size_t i = 0; i < resnets_.size(); ++i) {
      x = resnets_[i](torch::cat({x, skips.back()}, 1), temb);
      skips.pop_back();
      if (!attentions_.empty()) x = attentions_[i](x, context);
    }
    if (upsampler_) x = upsampler_(x, size);
    return x;
  }

 private:
  Shape shape_;
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2D> attentions_;
  Downsample2D downsampler_{nullptr};
  Upsample2D upsampler_{nullptr};
};

UNet2DConditionImpl::UNet2DConditionImpl(const UNetConfig& config, std::int64_t last_up_block)
    : config_(config), last_(last_up_block) {
  const auto& ch = config.block_out_channels;
  const auto blocks = static_cast<std::int64_t>(ch.size());
  if (last_up_block < 0 || last_up_block >= blocks)
    throw std::invalid_argument("U-Net up block " + std::to_string(last_up_block) + " outside 0.." +
                                std::to_string(blocks - 1));
  const auto temb = config.time_embed_dim();
  conv_in_ = register_module(
      "conv_in", torch::nn::Conv2d(torch::nn::Conv2dOptions(config.in_channels, ch.front(), 3).padding(1)));
  time_embedding_ = register_embedding_mlp(*this, "time_embedding", ch.front(), temb);
  if (config.text_time)
    add_embedding_ =
        register_embedding_mlp(*this, "add_embedding", config.projection_class_embeddings_input_dim, temb);
  UNetStageImpl::Shape base;
  base.temb = temb;
  base.groups = config.norm_num_groups;
  base.eps = config.norm_eps;
  base.linear_projection = config.use_linear_projection;
  base.downsample_padding = config.downsample_padding;

  auto down_list = register_module("down_blocks", torch::nn::ModuleList());
  std::int64_t out = ch.front();
  for (std::int64_t i = 0; i < blocks; ++i) {
    auto shape = base;
    const auto u = static_cast<std::size_t>(i);
    const auto in = out;
    out = ch[u];
    shape.kind = UNetStageImpl::Kind::down;
    shape.out = out;
    for (std::int64_t j = 0; j < config.layers_per_block[u]; ++j)
      shape.resnet_in.push_back(j == 0 ? in : out);
    shape.attention = config.down_blocks[u] == UNetBlock::cross_attention;
    shape.heads = config.attention_heads[u];
    shape.transformer_layers = config.transformer_layers_per_block[u];
    shape.context_dim = config.cross_attention_dim[u];
    shape.sampler = i + 1 < blocks;
    down_.push_back(UNetStage(shape));
    down_list->push_back(down_.back());
  }
  auto mid = base;
  mid.kind = UNetStageImpl::Kind::mid;
  mid.out = ch.back();
  mid.resnet_in = {ch.back(), ch.back()};
  mid.attention = true;
  mid.heads = config.attention_heads.back();
  mid.transformer_layers = config.transformer_layers_per_block.back();
  mid.context_dim = config.cross_attention_dim.back();
  mid.output_scale_factor = config.mid_block_scale_factor;
  mid_ = register_module("mid_block", UNetStage(mid));

  auto up_list = register_module("up_blocks", torch::nn::ModuleList());
  out = ch.back();
  for (std::int64_t i = 0; i <= last_up_block; ++i) {
    const auto r = static_cast<std::size_t>(blocks - 1 - i);  // the matching down block
    const auto prev = out;
    out = ch[r];
    const auto in = ch[static_cast<std::size_t>(std::max<std::int64_t>(blocks - 2 - i, 0))];
    auto shape = base;
    shape.kind = UNetStageImpl::Kind::up;
    shape.out = out;
    const auto layers = config.layers_per_block[r] + 1;
    for (std::int64_t j = 0; j < layers; ++j)
      shape.resnet_in.push_back((j == 0 ? prev : out) + (j == layers - 1 ? in : out));
    shape.attention = config.up_blocks[static_cast<std::size_t>(i)] == UNetBlock::cross_attention;
    shape.heads = config.attention_heads[r];
    shape.transformer_layers = config.reverse_transformer_layers_per_block[static_cast<std::size_t>(i)];
    shape.context_dim = config.cross_attention_dim[r];
    shape.sampler = i + 1 < blocks;
    up_.push_back(UNetStage(shape));
    up_list->push_back(up_.back());
  }
}

std::int64_t UNet2DConditionImpl::output_channels() const {
  return config_.block_out_channels[config_.block_out_channels.size() - 1 - static_cast<std::size_t>(last_)];
}

void UNet2DConditionImpl::load(const SafetensorsFolder& weights) { load_parameters(*this, weights); }

torch::Tensor UNet2DConditionImpl::up_block_output(const torch::Tensor& latents,
                                                   const torch::Tensor& timesteps,
                                                   const UNetConditioning& c) {
  const auto& ch = config_.block_out_channels;
  auto emb =
      time_embedding_(timestep_embedding(timesteps, ch.front(), config_.flip_sin_to_cos, config_.freq_shift));
  if (config_.text_time) {
    if (!c.text_embeds.defined() || !c.time_ids.defined())
      throw std::invalid_argument("the SDXL U-Net needs the pooled text embedding and the time ids");
    const auto time = timestep_embedding(c.time_ids.flatten(), config_.addition_time_embed_dim,
                                         config_.flip_sin_to_cos, config_.freq_shift)
                          .reshape({c.text_embeds.size(0), -1});
    const auto add = torch::cat({c.text_embeds, time}, -1);
    emb = emb + add_embedding_(add);
  }
  // Up-samplers are told the skip's size only where the latent is not a multiple of the overall
  // factor, as diffusers does.
  const std::int64_t factor = std::int64_t{1} << (ch.size() - 1);
  const bool forward_size = latents.size(2) % factor != 0 || latents.size(3) % factor != 0;

  auto x = conv_in_(latents);
  std::vector<torch::Tensor> skips{x};
  for (auto& block : down_) x = block->down(x, emb, c.context, skips);
  x = mid_->mid(x, emb, c.context);
  for (auto& block : up_) {
    c10::optional<std::vector<std::int64_t>> size;
    const auto remaining = skips.size() - block->resnets();
    if (forward_size && remaining > 0) {
      const auto& next = skips[remaining - 1];
      size = std::vector<std::int64_t>{next.size(2), next.size(3)};
    }
    x = block->up(x, emb, c.context, skips, size);
  }
  return x;
}

}  // namespace acsweep::models
