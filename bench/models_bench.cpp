// The models' forward passes in acsweep's C++, timed: a CLIP-style vision tower (images/s), the
// Llama decoder (tokens/s), and the C score's keypoint matching against the feature extraction
// it follows. bench/models_vs_pytorch.py writes the models, runs this and the same models in
// PyTorch (the same torch 2.13 that acsweep links) with the same threads, and prints the ratios.
//   bench_models MODELS_FOLDER THREADS  ->  one JSON line
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/scores/correspondence.hpp"
#include "best_of.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: bench_models MODELS_FOLDER THREADS\n");
    return 2;
  }
  acsweep::models::keep_tensor_memory_for_reuse();  // as the acsweep executable does
  const std::string folder = argv[1];
  at::set_num_threads(std::stoi(argv[2]));
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);

  auto encoder = acsweep::models::load_vision_encoder(folder + "/vit");
  const int batch = 8;
  const auto pixels = torch::randn({batch, 3, 224, 224});
  const double encode = best_seconds(5, [&] { encoder->features(pixels); });

  auto llm = acsweep::models::load_llama(folder + "/llama");
  const auto ids = torch::randint(0, llm->config().vocab_size, {1, 256});
  const double forward = best_seconds(5, [&] { llm->forward(llm->embed(ids)); });

  // The C score of one pair: two images' features, then 10 keypoints matched over the grid.
  const auto pair_pixels = torch::randn({2, 3, 224, 224});
  const auto grids = encoder->features(pair_pixels);
  acsweep::data::KeypointPair pair;
  for (int k = 0; k < 10; ++k) {
    pair.source_points.push_back({20.0 * k + 5, 17.0 * k + 3});
    pair.target_points.push_back({20.0 * k + 7, 17.0 * k + 9});
  }
  pair.target_box = {0, 0, 224, 224};
  const auto t = acsweep::data::ImageTransform::identity(224, 224);
  const double features = best_seconds(5, [&] { encoder->features(pair_pixels); });
  const double match =
      best_seconds(20, [&] { acsweep::scores::match_keypoints(grids[0], grids[1], pair, t, t); });
  const auto upsampled = torch::upsample_bilinear2d(grids, {224, 224}, false);
  const double match_upsampled =
      best_seconds(5, [&] { acsweep::scores::match_keypoints(upsampled[0], upsampled[1], pair, t, t); });

  std::printf(
      "{\"encoder_images_per_s\": %.4f, \"llm_tokens_per_s\": %.4f, \"pair_features_s\": %.6f, "
      "\"pair_match_s\": %.6f, \"pair_match_upsampled_s\": %.6f}\n",
      batch / encode, 256 / forward, features, match, match_upsampled);
  return 0;
}
