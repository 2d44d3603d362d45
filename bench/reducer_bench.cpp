// The gradient reducer against its baselines, at the rank count it runs with (bench/reducer.sh
// runs 2 and 4): one raw MPI_Allreduce of all the gradients' bytes at once (the floor), the
// reducer (about 25 MB buckets, then the division by the rank count), and one all-reduce per
// parameter (what a naive data-parallel loop does). Parameter shapes of a Llama-style model.
// Then one data-parallel step of that Llama (forward, backward, reduction of every gradient) with
// the reduction after the backward against the reduction overlapped with it.
//   mpirun -np N bench_reducer HIDDEN LAYERS
#include <mpi.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "acsweep/models/llama.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/train/reducer.hpp"

namespace {

template <typename F>
double best_seconds(int repeats, F&& f) {
  f();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    acsweep::runtime::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
    const double start = MPI_Wtime();
    f();
    double mine = MPI_Wtime() - start, slowest = 0;
    acsweep::runtime::check_mpi(MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
                                "MPI_Allreduce");
    best = std::min(best, slowest);
  }
  return best;
}

// One data-parallel step of a Llama of this size on a sequence of `tokens`: the slowest rank's best.
double step_seconds(std::int64_t D, std::int64_t layers, std::int64_t tokens,
                    acsweep::train::AllReduce& all_reduce) {
  const auto c = acsweep::models::llama_config({32000, D, D * 8 / 3, layers, D / 64, D / 64, 64});
  torch::manual_seed(0);
  acsweep::models::LlamaForCausalLM llm(c);
  acsweep::train::GradientReducer reducer(llm->parameters(), all_reduce,
                                          acsweep::train::GradientReducer::Averaging::prescaled);
  const auto ids = torch::randint(0, c.vocab_size, {1, tokens + 1});
  const auto inputs = ids.slice(1, 0, tokens), targets = ids.slice(1, 1).reshape({-1});
  return best_seconds(3, [&] {
    reducer.zero_grad();
    reducer.arm();
    const auto logits = llm->forward(llm->embed(inputs));
    torch::nll_loss(torch::log_softmax(logits.reshape({tokens, -1}), -1), targets).backward();
    reducer.reduce();
  });
}

}  // namespace

int main(int argc, char** argv) {
  acsweep::runtime::MpiSession mpi(argc, argv);
  if (argc != 3) {
    if (mpi.rank() == 0) std::fprintf(stderr, "usage: bench_reducer HIDDEN LAYERS\n");
    return 2;
  }
  const std::int64_t D = std::stoll(argv[1]), layers = std::stoll(argv[2]), I = D * 8 / 3, V = 32000;
  std::vector<torch::Tensor> params{torch::zeros({V, D}, torch::requires_grad())};
  for (std::int64_t l = 0; l < layers; ++l) {
    for (int k = 0; k < 4; ++k) params.push_back(torch::zeros({D, D}, torch::requires_grad()));
    for (int k = 0; k < 2; ++k) params.push_back(torch::zeros({I, D}, torch::requires_grad()));
    params.push_back(torch::zeros({D, I}, torch::requires_grad()));
    for (int k = 0; k < 2; ++k) params.push_back(torch::zeros({D}, torch::requires_grad()));
  }
  params.push_back(torch::zeros({D}, torch::requires_grad()));
  params.push_back(torch::zeros({V, D}, torch::requires_grad()));
  std::int64_t numel = 0;
  for (const auto& p : params) numel += p.numel();

  acsweep::train::MpiAllReduce all_reduce(MPI_COMM_WORLD);
  acsweep::train::GradientReducer reducer(params, all_reduce);
  std::vector<torch::Tensor> copies;  // the same shapes again, for the prescaled reducer's own views
  for (const auto& p : params) copies.push_back(torch::zeros(p.sizes(), torch::requires_grad()));
  acsweep::train::GradientReducer prescaled(copies, all_reduce,
                                            acsweep::train::GradientReducer::Averaging::prescaled);
  for (auto& b : reducer.buckets()) b.flat.fill_(1.0f + static_cast<float>(mpi.rank()));
  auto flat = torch::ones({numel});
  const double raw = best_seconds(5, [&] { all_reduce.sum(flat); });
  const double bucketed = best_seconds(5, [&] { reducer.reduce(); });
  const double summed = best_seconds(5, [&] { prescaled.reduce(); });
  const double per_parameter = best_seconds(5, [&] {
    for (auto& p : params) {
      auto g = p.grad().contiguous();
      all_reduce.sum(g);
    }
  });
  if (mpi.rank() == 0)
    std::printf(
        "ranks %d, %zu parameters, %.1f MB in %zu buckets: raw MPI_Allreduce %.2f ms, reducer %.2f ms "
        "(%.2fx raw; %.2f ms, %.2fx, with the loss prescaled as Stage 2 does), one all-reduce per parameter "
        "%.2f ms (%.2fx raw)\n",
        mpi.size(), params.size(), numel * 4.0 / 1e6, reducer.buckets().size(), raw * 1e3, bucketed * 1e3,
        bucketed / raw, summed * 1e3, summed / raw, per_parameter * 1e3, per_parameter / raw);

  constexpr std::int64_t kTokens = 64;
  acsweep::train::MpiAllReduce overlapping(MPI_COMM_WORLD, /*overlap=*/true);
  const double serial = step_seconds(D, layers, kTokens, all_reduce);
  const double overlapped = step_seconds(D, layers, kTokens, overlapping);
  if (mpi.rank() == 0)
    std::printf(
        "ranks %d, one data-parallel step (%lld tokens a rank, forward, backward, reduction): reduction "
        "after "
        "the backward %.2f ms, overlapped with it %.2f ms (%.2fx)\n",
        mpi.size(), static_cast<long long>(kTokens), serial * 1e3, overlapped * 1e3, overlapped / serial);
  return 0;
}
