#include "acsweep/sweep/rank_state.hpp"

#include "acsweep/data/llava.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/sweep/encoder_options.hpp"
#include "acsweep/train/stage1.hpp"

namespace acsweep::sweep {

models::VisionRepresentation load_representation(const runtime::SettingSpec& setting,
                                                 const runtime::SearchSection& search, torch::Device device) {
  std::vector<std::unique_ptr<models::VisionEncoder>> members;
  for (const auto& folder : setting.folders)
    members.push_back(models::load_vision_encoder(folder, encoder_options(setting, search)));
  models::VisionRepresentation representation(std::move(members));
  representation.to(device);
  return representation;
}

std::shared_ptr<RankState> load_rank_state(const ScoringPlan& plan, const runtime::ScoringSection& s,
                                           int local_rank) {
  auto state = std::make_shared<RankState>();
  if (torch::cuda::is_available())
    state->device = torch::Device(
        torch::kCUDA,
        static_cast<c10::DeviceIndex>(local_rank % static_cast<int>(torch::cuda::device_count())));
  state->llm_folder = s.llm.folder;
  frozen_llm(*state);
  state->tokenizer = std::make_unique<models::Tokenizer>(s.llm.tokenizer);
  const auto captions = models::plain_captions(
      *state->tokenizer, data::read_llava_json(s.stage1.data, s.stage1.images, &plan.missing.stage1));
  for (const auto i : plan.train) state->train.push_back(captions.at(i));
  for (const auto i : plan.heldout) state->heldout.push_back(captions.at(i));
  state->pairs =
      data::read_spair(s.c_score.root, s.c_score.split, static_cast<std::size_t>(s.c_score.max_pairs)).pairs;
  return state;
}

models::LlamaForCausalLM& frozen_llm(RankState& state) {
  if (!state.llm) {
    state.llm = models::load_llama(state.llm_folder, {state.device, torch::kFloat32});
    train::freeze(*state.llm);
  }
  return state.llm;
}

models::LlamaForCausalLM take_llm(RankState& state) {
  models::LlamaForCausalLM llm = frozen_llm(state);
  state.llm = models::LlamaForCausalLM(nullptr);
  return llm;
}

bool bf16_on(const runtime::LlmSection& llm, const torch::Device& device) {
  return llm.autocast == "bf16" || (llm.autocast == "auto" && device.is_cuda());
}

std::unique_ptr<train::AllReduce> group_all_reduce(const torch::Device& device, MPI_Comm group,
                                                   bool overlap) {
  if (device.is_cuda()) return train::make_nccl_all_reduce(group, device.index());
  return std::make_unique<train::MpiAllReduce>(group, overlap);
}

}  // namespace acsweep::sweep
