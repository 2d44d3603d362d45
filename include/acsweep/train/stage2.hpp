#pragma once
// Stage 2 of LLaVA (visual instruction tuning): the projector and the LLM train, the vision
// encoders stay frozen; vicuna_v1 conversations with the loss on the answers. Data-parallel over
// the ranks of a worker group through a GradientReducer, so this file knows an AllReduce but
// nothing of MPI or NCCL:
//  - the global batch is global_batch examples of a seeded permutation per epoch; rank r of W
//    takes the r-th contiguous W-th of it, in micro-batches, accumulating gradients;
//  - the loss of a step is the mean over every answer token of the global batch (each rank's
//    share divided by all the batch's tokens, then the gradients summed over the ranks), so
//    1 rank and W ranks take the same steps;
//  - with activation_checkpointing, each decoder layer keeps only its input and is recomputed in
//    the backward pass (train/activation_checkpoint.hpp): the same gradients, fewer saved bytes;
//  - with shard = optimizer or gradients, the AdamW state (and the gradients) are sharded over
//    the group (train/sharded_adamw.hpp): the same steps at a fraction of the memory per rank;
//    at parameters, the decoder layers' weights too: each is gathered only while its layer runs
//    (and so every layer is recomputed in the backward pass), and the model is whole again when
//    the training returns;
//    with param_dtype = bf16, the LLM and projector are converted to bf16 in place and train over
//    float32 master shards (half the bytes of weights and gradients, no autocast copies);
//  - AdamW, cosine schedule with warmup, optional gradient clipping; checkpoints every N steps
//    (rank 0 writes, or every rank its shard), the newest keep_checkpoints kept, and a run resumes
//    from the newest complete checkpoint in its folder (a sharded one at any group size).
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/projector.hpp"
#include "acsweep/models/vision_representation.hpp"
#include "acsweep/train/reducer.hpp"
#include "acsweep/train/sharded_adamw.hpp"

namespace acsweep::train {

struct Stage2Options {
  double learning_rate = 2e-5;
  std::int64_t global_batch = 128;
  std::int64_t micro_batch = 4;  // per rank
  std::int64_t epochs = 1;
  double warmup_ratio = 0.03;
  double weight_decay = 0.0;
  double max_grad_norm = 0.0;  // 0: no clipping
  std::uint64_t data_seed = 0;
  std::int64_t checkpoint_every = 0;    // optimizer steps; 0: no checkpoints
  std::string checkpoint_dir;           // where checkpoints go and a resumed run looks
  std::int64_t keep_checkpoints = 2;    // the newest complete ones kept (0: all)
  std::int64_t stop_after = 0;          // end after this many steps of the schedule (0: all of it)
  ShardLevel shard = ShardLevel::none;  // what of the training state is sharded over the group
  bool bf16 = false;                    // bf16 autocast in the forward passes (train/autocast.hpp)
  // The LLM's and projector's weights as they compute: float32, or bfloat16 over the float32
  // master shards of a sharded optimizer (needs shard != none; the forward passes then run under
  // bf16 autocast whatever `bf16` says).
  torch::ScalarType param_dtype = torch::kFloat32;
  bool activation_checkpointing = false;  // each decoder layer recomputed in the backward pass
  double max_bad_fraction = 1.0;  // of the conversations, whose image may not decode (check_bad_images)
  std::int64_t max_length =
      0;  // tokens, visual ones included, a conversation may take (0: the LLM's context)
  std::size_t loader_threads = 0;  // background threads preparing images (0: the training thread)
};

struct Stage2Progress {
  std::int64_t step = 0, steps = 0;
  double loss = 0, tokens_per_second = 0;  // this rank's tokens (visual ones included)
  // This rank's model FLOPs per second, PaLM's count: per token 6N (N: the LLM's parameters) plus
  // 12 * layers * hidden * sequence length for attention. MFU is this over the device's peak.
  double flops_per_second = 0;
  std::int64_t peak_bytes = 0;  // this process's peak memory so far (models/torch_runtime.hpp)
};

struct Stage2Result {
  std::vector<double> step_loss;     // every step of the schedule done so far, resumed ones included
  std::int64_t resumed_from = 0;     // the checkpoint's step, 0 for a fresh start
  std::int64_t steps = 0;            // of the whole schedule
  std::size_t skipped_too_long = 0;  // conversations that do not fit the context even cut
  std::size_t truncated = 0;         // conversations cut to the context, as LLaVA cuts them
  // This rank's conversations whose image did not decode: left out of the loss (stage1.hpp).
  std::set<std::string> left_out;
  double tokens_per_second = 0, flops_per_second = 0;
  // This run's seconds in the training loop, and those it waited for the data loader's images.
  double seconds = 0, loader_wait_seconds = 0;
  std::int64_t peak_bytes = 0;  // this process's peak memory at the end
};

// The trainable parameters as checkpoints and the results name them: the projector as
// model.mm_projector.*, then the LLM's own names.
std::vector<std::pair<std::string, torch::Tensor>> stage2_parameters(models::LlamaForCausalLM& llm,
                                                                     models::Projector& projector);

// std::invalid_argument when global_batch is not a multiple of micro_batch times the ranks.
Stage2Result train_stage2(models::LlamaForCausalLM& llm, models::Projector& projector,
                          models::VisionRepresentation& representation,
                          const std::vector<models::ImagePrompt>& conversations, const Stage2Options& options,
                          AllReduce& all_reduce, int rank,
                          const std::function<void(const Stage2Progress&)>& progress = {});

}  // namespace acsweep::train
