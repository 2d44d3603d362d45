// The native diffusion features timed: one diffusers pipeline folder, a batch of images through the
// VAE encoder, the noise and the denoiser up to the chosen block (images/s); and the first pass's
// growth of the resident set (its peak after the pass less the set before it) beside what the memory
// plan counts for the batch (diffusion_activation_bytes).
// bench/diffusion_features_vs_diffusers.py writes the pipeline, runs this and diffusers' own models
// on the same inputs with the same threads, and prints the ratio.
//   bench_diffusion PIPELINE_FOLDER THREADS BATCH SIDE BLOCK  ->  one JSON line
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "acsweep/models/diffusion_features.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "best_of.hpp"

namespace {

std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

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
  const auto before = resident_bytes();
  model.features(pixels, noise);
  const auto growth = acsweep::models::peak_memory_bytes(-1) - before;
  const auto planned = batch * acsweep::models::diffusion_activation_bytes(argv[1], model.geometry(), side);
  const double seconds = best_seconds(3, [&] { model.features(pixels, noise); });
  std::printf(
      "{\"images_per_s\": %.4f, \"batch\": %lld, \"side\": %lld, \"first_pass_rss_growth_bytes\": %lld, "
      "\"planned_activation_bytes\": %lld}\n",
      static_cast<double>(batch) / seconds, static_cast<long long>(batch), static_cast<long long>(side),
      static_cast<long long>(growth), static_cast<long long>(planned));
  return 0;
}
