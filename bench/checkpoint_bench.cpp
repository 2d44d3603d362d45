// Sharded checkpoint writes (train/checkpoint.hpp) on the ranks it is started on: AdamW sharded at
// `gradients` over a Llama of about 106M parameters (as bench/train_shard_bench.cpp), then
// save_sharded_checkpoint into DIR, best of 3 after a warm-up (each into a fresh step folder):
//   mpirun -np W bench_checkpoint DIR   ->  one JSON line from rank 0
// with the seconds of the whole write (shards, fsync, manifest, rename) and each rank's bytes.
// bench/checkpoint_write.sh runs it beside dd writing the same bytes per rank, in parallel.
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "acsweep/models/llama.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/train/checkpoint.hpp"
#include "acsweep/train/sharded_adamw.hpp"

namespace {

int run(const std::string& dir) {
  using namespace acsweep;
  int rank = 0, ranks = 1;
  runtime::check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  runtime::check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &ranks), "MPI_Comm_size");
  torch::manual_seed(0);
  models::LlamaForCausalLM llm(models::llama_config({32000, 768, 2048, 8, 12, 12, 64}, 1024));
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (const auto& p : llm->named_parameters()) named.emplace_back(p.key(), p.value().requires_grad_(true));
  train::MpiAllReduce group(MPI_COMM_WORLD);
  train::ShardedAdamW optimizer(named, group, rank, train::ShardLevel::gradients);
  train::TrainingCursor cursor;
  double seconds = 1e30;
  for (int attempt = 0; attempt < 4; ++attempt) {  // a warm-up, then the best of 3
    ++cursor.step;
    runtime::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
    const auto start = std::chrono::steady_clock::now();
    train::save_sharded_checkpoint(dir, optimizer, cursor);
    runtime::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (attempt > 0) seconds = std::min(seconds, took);
    if (rank == 0) train::prune_checkpoints(dir, 1);  // untimed: only the newest stays
  }
  long long bytes = 0;  // this rank's shard file
  for (const auto& entry :
       std::filesystem::directory_iterator(dir + "/checkpoint-" + std::to_string(cursor.step)))
    if (entry.path().filename() ==
        "shard-" + std::to_string(rank) + "-of-" + std::to_string(ranks) + ".safetensors")
      bytes = static_cast<long long>(entry.file_size());
  long long largest = 0;
  runtime::check_mpi(MPI_Reduce(&bytes, &largest, 1, MPI_LONG_LONG, MPI_MAX, 0, MPI_COMM_WORLD),
                     "MPI_Reduce");
  if (rank == 0)
    std::printf("{\"ranks\": %d, \"write_s\": %.4f, \"bytes_per_rank\": %lld}\n", ranks, seconds, largest);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rc = 2;
  if (argc == 2) {
    try {
      rc = run(argv[1]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_checkpoint: %s\n", e.what());
      rc = 1;
    }
  } else {
    std::fprintf(stderr, "usage: mpirun -np W bench_checkpoint DIR\n");
  }
  MPI_Finalize();
  return rc;
}
