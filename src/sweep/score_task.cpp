#include "acsweep/sweep/score_task.hpp"

#include <cstdio>
#include <limits>
#include <memory>
#include <vector>

#include "acsweep/models/multimodal.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/scores/alignment.hpp"
#include "acsweep/scores/correspondence.hpp"
#include "acsweep/sweep/stage1_projector.hpp"

namespace acsweep::sweep {

runtime::TaskResult score_setting(RankState& state, const ScoringPlan& plan, const runtime::JobSpec& job,
                                  const runtime::TaskDescriptor& task, int rank, MPI_Comm group) {
  const auto& s = *job.scoring;
  const std::size_t index = std::stoul(task.inputs.at("setting"));
  const auto& setting = s.search.settings.at(index);
  auto representation = load_representation(setting, s.search, state.device);
  auto trained =
      stage1_projector(state, representation, setting, task.inputs.at("stage1_hash"), job, rank, group);
  // The references' projectors, for A_similarity (each trained here unless another task saved it).
  std::vector<std::unique_ptr<models::VisionRepresentation>> reference_representations;
  std::vector<Stage1Projector> references;
  for (const auto& reference : s.a_score.references) {
    std::size_t r = 0;
    while (s.search.settings[r].name != reference) ++r;
    if (r == index) continue;
    reference_representations.push_back(std::make_unique<models::VisionRepresentation>(
        load_representation(s.search.settings[r], s.search, state.device)));
    references.push_back(stage1_projector(state, *reference_representations.back(), s.search.settings[r],
                                          plan.tasks[r].inputs.at("stage1_hash"), job, rank, group));
  }
  int group_rank = 0;
  runtime::check_mpi(MPI_Comm_rank(group, &group_rank), "MPI_Comm_rank(worker group)");
  if (group_rank != 0) return {};

  runtime::TaskResult result;
  const auto a = scores::score_alignment(frozen_llm(state), representation, trained.projector, state.heldout,
                                         static_cast<std::size_t>(s.a_score.batch));
  const auto c =
      scores::score_correspondence(representation, state.pairs, {s.c_score.alpha, s.c_score.upsample});

  double similarity = std::numeric_limits<double>::quiet_NaN();
  if (!s.a_score.references.empty()) {
    std::vector<torch::Tensor> mine;  // this setting's projected tokens of each held-out image, once
    {
      torch::NoGradGuard frozen;
      for (const auto& caption : state.heldout)
        mine.push_back(trained.projector->forward(models::visual_tokens(representation, {caption.image}))[0]);
    }
    double total = 0;
    std::size_t next = 0;  // in `references`
    for (const auto& reference : s.a_score.references) {
      if (reference == setting.name) {  // against itself: its own tokens, no second copy of its encoders
        for (const auto& tokens : mine) total += scores::alignment_similarity(tokens, tokens);
        continue;
      }
      auto& ref = references[next];
      auto& ref_representation = *reference_representations[next++];
      torch::NoGradGuard frozen;
      for (std::size_t i = 0; i < state.heldout.size(); ++i) {
        const auto theirs =
            ref.projector->forward(models::visual_tokens(ref_representation, {state.heldout[i].image}))[0];
        total += scores::alignment_similarity(mine[i], theirs);
      }
    }
    similarity = total / static_cast<double>(s.a_score.references.size() * state.heldout.size());
  }

  double a_mean = 0;
  for (const double v : a) a_mean += v;
  a_mean /= static_cast<double>(a.size());
  result.values = {a_mean,
                   c.summary.pck_keypoints,
                   c.summary.pck_per_pair,
                   similarity,
                   trained.loss.empty() ? std::numeric_limits<double>::quiet_NaN() : trained.loss.back(),
                   static_cast<double>(trained.examples),
                   static_cast<double>(trained.too_long)};
  result.per_sample["A"] = a;
  auto& correct = result.per_sample["C_correct"];
  auto& per_pair = result.per_sample["C_per_pair"];
  for (const auto& match : c.matches) {
    double hits = 0;
    for (const bool ok : match.correct) {
      correct.push_back(ok ? 1.0 : 0.0);
      hits += ok ? 1.0 : 0.0;
    }
    per_pair.push_back(100.0 * hits / static_cast<double>(match.correct.size()));
  }
  for (const auto& category : plan.categories) {
    const auto found = c.summary.pck_per_category.find(category);
    result.per_sample["C_per_category"].push_back(
        found == c.summary.pck_per_category.end() ? std::numeric_limits<double>::quiet_NaN() : found->second);
  }
  result.per_sample["stage1_loss"] = trained.loss;
  std::fprintf(stderr, "acsweep [rank %d] %s: A %.4f, C %.2f%% (%zu keypoints), A_similarity %.4f\n", rank,
               setting.name.c_str(), a_mean, c.summary.pck_keypoints, c.summary.keypoints, similarity);
  return result;
}

}  // namespace acsweep::sweep
