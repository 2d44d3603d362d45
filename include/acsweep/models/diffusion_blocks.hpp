#pragma once
// The building blocks of diffusers' U-Net and VAE encoder in LibTorch, under diffusers' own
// parameter names, so that a pipeline folder's safetensors load as they are: ResnetBlock2D, the 2x
// down- and up-samplers, the VAE's single-head spatial attention, and Transformer2DModel (group
// norm, projection in, BasicTransformerBlocks of self-attention, cross-attention and a GEGLU
// feed-forward, projection out). Inference only; knows nothing of MPI.
#include <torch/torch.h>

#include <string>

namespace acsweep::models {

// ResnetBlock2D with the "default" time embedding (added after the first convolution); temb_channels
// 0: no time embedding (the VAE).
class ResnetBlock2DImpl : public torch::nn::Module {
 public:
  ResnetBlock2DImpl(std::int64_t in, std::int64_t out, std::int64_t temb_channels, std::int64_t groups,
                    double eps, double output_scale_factor = 1);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb = {});

 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv_shortcut_{nullptr};
  torch::nn::Linear time_emb_proj_{nullptr};
  double output_scale_factor_;
};
TORCH_MODULE(ResnetBlock2D);

// A 3x3 stride-2 convolution; padding 0 pads right and bottom by one first (the VAE's).
class Downsample2DImpl : public torch::nn::Module {
 public:
  Downsample2DImpl(std::int64_t channels, std::int64_t padding);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  std::int64_t padding_;
};
TORCH_MODULE(Downsample2D);

// Nearest-neighbour 2x (or to `size`), then a 3x3 convolution.
class Upsample2DImpl : public torch::nn::Module {
 public:
  explicit Upsample2DImpl(std::int64_t channels);
  torch::Tensor forward(const torch::Tensor& x, c10::optional<std::vector<std::int64_t>> size = c10::nullopt);

 private:
  torch::nn::Conv2d conv_{nullptr};
};
TORCH_MODULE(Upsample2D);

// diffusers' Attention as the transformer blocks use it: to_q, to_k, to_v (biases optional),
// to_out.0; keys and values from `context` (cross-attention) or from x itself.
class DiffusionAttentionImpl : public torch::nn::Module {
 public:
  DiffusionAttentionImpl(std::int64_t query_dim, std::int64_t context_dim, std::int64_t heads,
                         std::int64_t head_dim, bool qkv_bias);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context = {});

 private:
  torch::nn::Linear to_q_{nullptr}, to_k_{nullptr}, to_v_{nullptr}, to_out_{nullptr};
  std::int64_t heads_;
};
TORCH_MODULE(DiffusionAttention);

// The VAE's mid-block attention: group norm, one head over all channels, a residual.
class SpatialSelfAttentionImpl : public torch::nn::Module {
 public:
  SpatialSelfAttentionImpl(std::int64_t channels, std::int64_t groups, double eps);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::GroupNorm group_norm_{nullptr};
  DiffusionAttention attention_{nullptr};
};
TORCH_MODULE(SpatialSelfAttention);

// diffusers' FeedForward under `parent` as ff.net.0.proj (or another name's) (the input projection to
// `projected` features: GELU's, or GEGLU's two halves), ff.net.1 (dropout) and ff.net.2 (back to `dim` from
// `inner`); the two linear layers, for the caller's forward.
struct FeedForwardLayers {
  torch::nn::Linear in{nullptr}, out{nullptr};
};
FeedForwardLayers register_feed_forward(torch::nn::Module& parent, std::int64_t dim, std::int64_t projected,
                                        std::int64_t inner, const std::string& name = "ff");

class BasicTransformerBlockImpl : public torch::nn::Module {
 public:
  BasicTransformerBlockImpl(std::int64_t dim, std::int64_t heads, std::int64_t head_dim,
                            std::int64_t context_dim);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

 private:
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr}, norm3_{nullptr};
  DiffusionAttention attn1_{nullptr}, attn2_{nullptr};
  FeedForwardLayers ff_;
};
TORCH_MODULE(BasicTransformerBlock);

// Transformer2DModel on continuous inputs ([B, C, H, W] in and out, with a residual).
class Transformer2DImpl : public torch::nn::Module {
 public:
  Transformer2DImpl(std::int64_t channels, std::int64_t heads, std::int64_t layers, std::int64_t context_dim,
                    std::int64_t groups, bool linear_projection);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

 private:
  torch::nn::GroupNorm norm_{nullptr};
  torch::nn::Linear proj_in_linear_{nullptr}, proj_out_linear_{nullptr};
  torch::nn::Conv2d proj_in_conv_{nullptr}, proj_out_conv_{nullptr};
  torch::nn::ModuleList blocks_;
};
TORCH_MODULE(Transformer2D);

// diffusers' TimestepEmbedding (and PixArtAlphaTextProjection, the same with SiLU, and the U-Net's
// add_embedding): linear_1, SiLU, linear_2, registered under `parent` as `name`.
struct EmbeddingMlp {
  torch::nn::Linear linear_1{nullptr}, linear_2{nullptr};
  torch::Tensor operator()(const torch::Tensor& x) const;
};
EmbeddingMlp register_embedding_mlp(torch::nn::Module& parent, const std::string& name, std::int64_t in,
                                    std::int64_t out);

// The sinusoidal embedding of timesteps [N] -> [N, dim] (diffusers' get_timestep_embedding).
torch::Tensor timestep_embedding(const torch::Tensor& timesteps, std::int64_t dim, bool flip_sin_to_cos,
                                 double freq_shift);

}  // namespace acsweep::models
