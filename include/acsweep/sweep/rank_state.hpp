#pragma once
// What the tasks of a scoring sweep on one rank share, loaded by its first task: the frozen LLM,
// its tokenizer, the Stage-1 captions and the held-out manifest, the keypoint pairs, the device;
// and what both task kinds do alike. LibTorch's headers: only the task kinds include this.
#include <mpi.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "acsweep/data/spair.hpp"
#include "acsweep/models/llama.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/tokenizer.hpp"
#include "acsweep/models/vision_representation.hpp"
#include "acsweep/runtime/job_file.hpp"
#include "acsweep/sweep/scoring_plan.hpp"
#include "acsweep/train/reducer.hpp"

namespace acsweep::sweep {

struct RankState {
  std::string llm_folder;
  models::LlamaForCausalLM llm{nullptr};  // frozen, on `device`; none while a finetune holds it
  std::unique_ptr<models::Tokenizer> tokenizer;
  std::vector<models::ImagePrompt> train, heldout;
  std::vector<data::KeypointPair> pairs;
  torch::Device device = torch::kCPU;
};

// On this rank's GPU (local rank modulo the GPUs) when there is one.
std::shared_ptr<RankState> load_rank_state(const ScoringPlan& plan, const runtime::ScoringSection& s,
                                           int local_rank);

// The frozen LLM of the scores, loaded again where a finetune took it.
models::LlamaForCausalLM& frozen_llm(RankState& state);

// The LLM for a finetune to train: the rank's frozen copy itself, handed over, so that a rank
// never holds a frozen copy beside the one it trains (at 7B, 25 GiB of float32). The next score
// task loads it again.
models::LlamaForCausalLM take_llm(RankState& state);

// The setting's encoders, loaded at its resolution and concatenated, on `device`.
models::VisionRepresentation load_representation(const runtime::SettingSpec& setting,
                                                 const runtime::SearchSection& search, torch::Device device);

// bf16 autocast for training on this device ([llm] autocast: auto means on CUDA).
bool bf16_on(const runtime::LlmSection& llm, const torch::Device& device);

// The sum over a worker group's ranks: NCCL for a GPU, MPI otherwise (overlapping the backward
// when asked).
std::unique_ptr<train::AllReduce> group_all_reduce(const torch::Device& device, MPI_Comm group,
                                                   bool overlap = false);

}  // namespace acsweep::sweep
