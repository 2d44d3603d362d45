#include "acsweep/sweep/score_task.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <vector>

#include "acsweep/data/prefetcher.hpp"
#include "acsweep/error.hpp"
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
  // An image that does not decode leaves its caption or pair out (NaN in its place), named here
  // and counted in the row; the same items are left out of every setting, so the scores compare.
  std::vector<std::string> left_out;
  // The score task's images (Stage 1's, A's and C's) are prepared on [stage1] loader_threads.
  const std::size_t threads = data::loader_threads(s.stage1.loader_threads);
  const auto a = scores::score_alignment(frozen_llm(state), representation, trained.projector, state.heldout,
                                         static_cast<std::size_t>(s.a_score.batch), &left_out, threads);
  const std::size_t a_left_out = left_out.size();
  const auto c = scores::score_correspondence(representation, state.pairs,
                                              {s.c_score.alpha, s.c_score.upsample, threads});
  std::size_t c_left_out = 0;
  for (const auto& match : c.matches)
    if (!match.skipped.empty()) {
      left_out.push_back(match.skipped);
      ++c_left_out;
    }
  for (const auto& why : left_out)
    std::fprintf(stderr, "acsweep [rank %d] %s: left out: %s\n", rank, setting.name.c_str(), why.c_str());
  if (a_left_out == a.size())
    throw InputError("no held-out caption's image decodes (" + left_out.front() + ")");
  const auto usable = [&a](std::size_t i) { return !std::isnan(a[i]); };

  double similarity = std::numeric_limits<double>::quiet_NaN();
  if (!s.a_score.references.empty()) {
    std::vector<torch::Tensor> mine;  // this setting's projected tokens of each held-out image, once
    {
      torch::NoGradGuard frozen;
      for (std::size_t i = 0; i < state.heldout.size(); ++i)
        mine.push_back(usable(i) ? trained.projector->forward(
                                       models::visual_tokens(representation, {state.heldout[i].image}))[0]
                                 : torch::Tensor());
    }
    double total = 0;
    std::size_t next = 0;  // in `references`
    for (const auto& reference : s.a_score.references) {
      if (reference == setting.name) {  // against itself: its own tokens, no second copy of its encoders
        for (std::size_t i = 0; i < mine.size(); ++i)
          if (usable(i)) total += scores::alignment_similarity(mine[i], mine[i]);
        continue;
      }
      auto& ref = references[next];
      auto& ref_representation = *reference_representations[next++];
      torch::NoGradGuard frozen;
      for (std::size_t i = 0; i < state.heldout.size(); ++i) {
        if (!usable(i)) continue;
        const auto theirs =
            ref.projector->forward(models::visual_tokens(ref_representation, {state.heldout[i].image}))[0];
        total += scores::alignment_similarity(mine[i], theirs);
      }
    }
    similarity = total / static_cast<double>(s.a_score.references.size() * (a.size() - a_left_out));
  }

  double a_mean = 0;  // over the captions scored
  for (std::size_t i = 0; i < a.size(); ++i)
    if (usable(i)) a_mean += a[i];
  a_mean /= static_cast<double>(a.size() - a_left_out);
  result.values = {a_mean,
                   c.summary.pck_keypoints,
                   c.summary.pck_per_pair,
                   similarity,
                   trained.loss.empty() ? std::numeric_limits<double>::quiet_NaN() : trained.loss.back(),
                   static_cast<double>(trained.examples),
                   static_cast<double>(trained.too_long),
                   static_cast<double>(a_left_out),
                   static_cast<double>(c_left_out)};
  result.per_sample["A"] = a;
  auto& correct = result.per_sample["C_correct"];
  auto& per_pair = result.per_sample["C_per_pair"];
  for (std::size_t p = 0; p < c.matches.size(); ++p) {
    const auto& match = c.matches[p];
    if (!match.skipped.empty()) {  // its keypoints keep their places, as NaN
      correct.insert(correct.end(), state.pairs[p].source_points.size(),
                     std::numeric_limits<double>::quiet_NaN());
      per_pair.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
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
  char similarity_text[48] = "";  // only where [a_score] references asks for it
  if (!s.a_score.references.empty())
    std::snprintf(similarity_text, sizeof similarity_text, ", A_similarity %.4f", similarity);
  std::fprintf(stderr, "acsweep [rank %d] %s: A %.4f, C %.2f%% (%zu keypoints)%s\n", rank,
               setting.name.c_str(), a_mean, c.summary.pck_keypoints, c.summary.keypoints, similarity_text);
  return result;
}

}  // namespace acsweep::sweep
