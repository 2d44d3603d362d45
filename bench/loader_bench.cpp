// Stage 1 on the CPU with its images prepared on the training thread (loader_threads 0, the
// baseline) and by the data loader's background threads, on a world whose images are 640 x 480
// JPEGs, so preprocessing costs about as much as the training step. Prints, per thread count, the
// loop's seconds, the seconds the training thread lost to images (preparing them itself, or
// waiting for the loader), its busy share (the rest), and the speed-up over the baseline.
// bench/loader.sh writes the world.
//   bench_loader WORLD THREADS...  ->  one JSON line per thread count
#include <ATen/Parallel.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "acsweep/data/llava.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/train/stage1.hpp"

int main(int argc, char** argv) {
  using namespace acsweep;
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_loader WORLD THREADS...\n");
    return 2;
  }
  const std::string world = argv[1];
  at::set_num_threads(1);  // the training thread's own work on one core; the loader's on the others
  auto llm = models::load_llama(world + "/llm");
  train::freeze(*llm);
  const models::Tokenizer tokenizer(world + "/llm/tokenizer.model");
  const auto captions = models::plain_captions(
      tokenizer, data::read_llava_json(world + "/captions_large.json", world + "/images_large"));
  std::vector<std::unique_ptr<models::VisionEncoder>> members;
  members.push_back(models::load_vision_encoder(world + "/encoders/clip"));
  models::VisionRepresentation representation(std::move(members));
  representation.visual_token_count();
  train::Stage1Options o;
  o.global_batch = 8;
  o.micro_batch = 4;
  o.epochs = 4;
  double baseline = 0;
  for (int a = 2; a < argc; ++a) {
    o.loader_threads = static_cast<std::size_t>(std::stoul(argv[a]));
    const auto r = train::train_projector(llm, representation, captions, o);
    if (a == 2) baseline = r.seconds;
    std::printf("%s\n", nlohmann::json({{"loader_threads", o.loader_threads},
                                        {"steps", r.step_loss.size()},
                                        {"seconds", r.seconds},
                                        {"lost_to_images_s", r.loader_wait_seconds},
                                        {"busy_share", 1.0 - r.loader_wait_seconds / r.seconds},
                                        {"speedup_over_first", baseline / r.seconds},
                                        {"final_loss", r.step_loss.back()}})
                            .dump()
                            .c_str());
    std::fflush(stdout);
  }
  return 0;
}
