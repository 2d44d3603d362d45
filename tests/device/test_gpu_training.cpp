// The GPU half of data-parallel training, for a machine with CUDA, NCCL and a CUDA LibTorch
// (tests/device/gpu_check.sh runs it at 1 rank and at one rank per GPU). Skipped where LibTorch
// sees no GPU or acsweep was built without NCCL:
//  - an NCCL all-reduce of a CUDA tensor gives the sum over ranks;
//  - one Stage-2 step on the GPU (NCCL over the ranks) gives the loss of the same step on the CPU
//    of rank 0 alone, to float tolerance;
//  - three steps at every shard level (NCCL reduce-scatter and all-gather; at `parameters` each
//    layer gathered while it runs) follow the unsharded ones, and bf16 weights over float32
//    master shards follow them to bf16's precision.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>
#include <filesystem>

#include "acsweep/data/llava.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/train/stage2.hpp"

namespace acsweep::train {
namespace {

int local_device() {
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int local = 0;
  MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  return local % static_cast<int>(torch::cuda::device_count());
}

#define REQUIRE_GPU()                                                       \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "LibTorch sees no GPU"; \
  try {                                                                     \
    make_nccl_all_reduce(MPI_COMM_SELF, 0);                                 \
  } catch (const std::exception& e) {                                       \
    GTEST_SKIP() << e.what();                                               \
  }

TEST(GpuTraining, NcclAllReduceSums) {
  REQUIRE_GPU();
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int device = local_device();
  auto nccl = make_nccl_all_reduce(MPI_COMM_WORLD, device);
  auto t = torch::full({1 << 20}, static_cast<float>(rank + 1), torch::Device(torch::kCUDA, device));
  nccl->sum(t);
  EXPECT_TRUE(torch::allclose(t.cpu(), torch::full({1 << 20}, size * (size + 1) / 2.0f)));
}

TEST(GpuTraining, OneStage2StepMatchesTheCpu) {
  REQUIRE_GPU();
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  at::globalContext().setAllowTF32CuDNN(false);  // compare float32 with float32, not TF32
  std::string root = "/tmp/acsweep_gpu_world";
  if (rank == 0) {
    const char* python = std::getenv("ACSWEEP_PYTHON");  // the device's python3, else the build's venv
    const std::string command = std::string(python ? python : ACSWEEP_PYTHON) +
                                " " ACSWEEP_TESTS_DIR "/fixtures/tiny_world.py " + root + " 4";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const auto run = [&](torch::Device device, AllReduce& all_reduce, int r, bool bf16 = false,
                       ShardLevel shard = ShardLevel::none, bool bf16_weights = false,
                       std::int64_t steps = 1) {
    auto llm = models::load_llama(root + "/llm", {device, torch::kFloat32});
    std::vector<std::unique_ptr<models::VisionEncoder>> members;
    members.push_back(models::load_vision_encoder(root + "/encoders/clip"));
    models::VisionRepresentation representation(std::move(members));
    representation.to(device);
    torch::manual_seed(21);
    models::Projector projector(representation.channels(), llm->config().hidden_size);
    projector->to(device);
    const models::Tokenizer tokenizer(root + "/llm/tokenizer.model");
    std::size_t left_out = 0;
    const auto data = models::chat_conversations(
        tokenizer, data::read_llava_json(root + "/captions.json", root + "/images"),
        data::ChatTemplate::vicuna_v1, left_out);
    Stage2Options o;
    o.global_batch = 8;
    o.micro_batch = 1;
    o.stop_after = steps;
    o.bf16 = bf16;
    o.shard = shard;
    o.param_dtype = bf16_weights ? torch::kBFloat16 : torch::kFloat32;
    return train_stage2(llm, projector, representation, data, o, all_reduce, r).step_loss;
  };
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (8 % size != 0) GTEST_SKIP() << "a global batch of 8 needs 1, 2, 4 or 8 ranks";
  auto nccl = make_nccl_all_reduce(MPI_COMM_WORLD, local_device());
  const torch::Device cuda(torch::kCUDA, local_device());
  const double gpu = run(cuda, *nccl, rank).at(0);
  if (rank == 0) {
    MpiAllReduce self(MPI_COMM_SELF);
    EXPECT_NEAR(gpu, run(torch::kCPU, self, 0).at(0), 1e-4 * std::abs(gpu));
  }
  // bf16 autocast, as the LLaVA recipe trains on GPUs: within bf16's precision of float32.
  const double bf16 = run(cuda, *nccl, rank, true).at(0);
  EXPECT_NE(bf16, gpu) << "autocast changed nothing";
  EXPECT_NEAR(bf16, gpu, 3e-2 * std::abs(gpu));

  // Every shard level over NCCL, three steps: as unsharded, and bf16 weights within bf16's reach.
  const auto none = run(cuda, *nccl, rank, false, ShardLevel::none, false, 3);
  for (const auto level : {ShardLevel::optimizer, ShardLevel::gradients, ShardLevel::parameters}) {
    const auto sharded = run(cuda, *nccl, rank, false, level, false, 3);
    const auto weights16 = run(cuda, *nccl, rank, false, level, true, 3);
    for (std::size_t s = 0; s < 3; ++s) {
      EXPECT_NEAR(sharded.at(s), none.at(s), 1e-4 * std::abs(none.at(s)))
          << to_string(level) << " step " << s;
      EXPECT_NEAR(weights16.at(s), none.at(s), 3e-2 * std::abs(none.at(s)))
          << to_string(level) << " in bf16, step " << s;
    }
  }
}

}  // namespace
}  // namespace acsweep::train
