#pragma once
// The "finetune" task kind of a scoring sweep, on a whole worker group: finetune one setting and
// evaluate it. Its Stage-1 projector (read back or trained), Stage 2 data-parallel over the group
// (checkpoints under <output>/stage2/<hash>/, resumed by a rerun), then every benchmark, each
// rank answering its share; its values are listed in scoring_plan.hpp. The group's result is its
// rank 0's.
#include <mpi.h>

#include <memory>
#include <vector>

#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/tokenizer.hpp"
#include "acsweep/runtime/job_file.hpp"
#include "acsweep/runtime/messages.hpp"
#include "acsweep/sweep/rank_state.hpp"

namespace acsweep::sweep {

// What every finetune on a rank shares, loaded by its first finetune.
struct FinetuneData {
  std::vector<models::ImagePrompt> conversations;
  std::vector<eval::Benchmark> benchmarks;
};

// `missing`: the Stage-2 items whose image the planning rank found missing (ScoringPlan).
std::shared_ptr<FinetuneData> load_finetune_data(const runtime::FinetuneSection& f,
                                                 const models::Tokenizer& tokenizer, data::ChatTemplate chat,
                                                 const std::vector<std::size_t>& missing);

runtime::TaskResult finetune_setting(RankState& state, FinetuneData& finetune, const runtime::JobSpec& job,
                                     const runtime::TaskDescriptor& task, MPI_Comm group, int rank);

}  // namespace acsweep::sweep
