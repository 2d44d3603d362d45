#pragma once
// The setting's Stage-1 projector under <output>/stage1/<hash>/: model.safetensors (LLaVA's
// model.mm_projector.* names) and stage1_loss.safetensors (the loss per step; the caption counts
// in its metadata). Trained by the first task that needs it (its own, or another setting's
// A_similarity) and read back by the rest: training is deterministic from the seed, so either
// way it is the same projector. The projector file is written last, each file atomically.
#include <mpi.h>

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "acsweep/models/projector.hpp"
#include "acsweep/models/vision_representation.hpp"
#include "acsweep/runtime/job_file.hpp"
#include "acsweep/sweep/rank_state.hpp"

namespace acsweep::sweep {

struct Stage1Projector {
  models::Projector projector{nullptr};
  std::vector<double> loss;
  std::size_t examples = 0, too_long = 0;
};

// The folder of the Stage-1 projector with this hash: <output>/stage1/<hash>.
std::string stage1_folder(const runtime::JobSpec& job, const std::string& stage1_hash);

// With [stage1] data_parallel, the ranks of `group` train it together (its rank 0 decides whether
// it must be trained, and writes it); otherwise each rank on its own. `rank` names the rank in
// progress lines.
Stage1Projector stage1_projector(RankState& state, models::VisionRepresentation& representation,
                                 const runtime::SettingSpec& setting, const std::string& stage1_hash,
                                 const runtime::JobSpec& job, int rank, MPI_Comm group);

// What a stage left out of its data, on stderr: each of this rank's images that did not decode
// ("stage N left out (its <trained> out of the loss): why"), and, on the group's rank 0, how many
// examples were cut to the context as LLaVA cuts them or left out as too long.
void report_left_out(int rank, int group_rank, const std::string& setting, int stage, const char* trained,
                     const std::set<std::string>& bad, std::size_t truncated, std::size_t too_long);
// How long a stage's training loop waited for its data loader (each rank its own): a share that
// stays high says the loader needs more threads (`[stageN] loader_threads`) or faster storage.
void report_loader(int rank, const std::string& setting, int stage, double seconds, double waited,
                   std::size_t threads);

}  // namespace acsweep::sweep
