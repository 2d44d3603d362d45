// The native diffusion features timed: one diffusers pipeline folder, a batch of images through the
// VAE encoder, the noise and the U-Net up to the chosen up block (images/s).
// bench/diffusion_features_vs_diffusers.py writes the pipeline, runs this and diffusers' own models
// on the same inputs with the same threads, and prints the ratio.
//   bench_diffusion PIPELINE_FOLDER THREADS BATCH SIDE BLOCK  ->  one JSON line
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "acsweep/models/diffusion_features.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "best_of.hpp"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: bench_diffusion PIPELINE_FOLDER THREADS BATCH SIDE BLOCK\n");
    return 2;
  }
  acsweep::models::keep_tensor_memory_for_reuse();  // as the acsweep executable does
  at::set_num_threads(std::stoi(argv[2]));
  const std::int64_t batch = std::stoll(argv[3]), side = std::stoll(argv[4]);
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  acsweep::models::DiffusionFeatures model(argv[1], {std::stoll(argv[5]), 1});
  const auto f = model.latent_factor();
  const auto pixels = torch::rand({batch, 3, side, side}) * 2 - 1;
  const auto noise = torch::randn({batch, model.latent_channels(), side / f, side / f});
  const double seconds = best_seconds(3, [&] { model.features(pixels, noise); });
  std::printf("{\"images_per_s\": %.4f, \"batch\": %lld, \"side\": %lld}\n",
              static_cast<double>(batch) / seconds, static_cast<long long>(batch),
              static_cast<long long>(side));
  return 0;
}
