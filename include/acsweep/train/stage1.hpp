#pragma once
// Stage 1 of LLaVA for the A score (shared/spec/LAW.md, "A score", step 1): only the projector
// trains; the vision encoders and the LLM are frozen. The input is the projected visual tokens
// followed by the caption (the plain template); the loss is the next-token cross-entropy on the
// caption's tokens. AdamW with a cosine schedule and warmup, the global batch reached by
// accumulating micro-batches. The loss of a step is the mean over every caption token of the
// global batch (token-weighted across micro-batches, so the split into micro-batches does not
// change the gradient). Data-parallel when asked, as Stage 2 (train/stage2.hpp): rank r of W takes
// the r-th contiguous W-th of each global batch, the loss is prescaled by the global batch's
// tokens and the gradients summed through an AllReduce, so W ranks take the steps of one and end
// with the same projector. Knows nothing of MPI.
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/projector.hpp"
#include "acsweep/models/tokenizer.hpp"
#include "acsweep/models/vision_representation.hpp"
#include "acsweep/train/reducer.hpp"

namespace acsweep::train {

struct Stage1Options {
  double learning_rate = 1e-3;
  std::int64_t global_batch = 256;
  std::int64_t micro_batch = 16;
  std::int64_t epochs = 1;
  double warmup_ratio = 0.03;
  double weight_decay = 0.0;
  double max_grad_norm = 0.0;             // 0: no clipping
  std::uint64_t data_seed = 0;            // the order of the examples
  std::uint64_t init_seed = 0;            // the projector's initial weights
  bool bf16 = false;                      // bf16 autocast in the forward passes (train/autocast.hpp)
  bool activation_checkpointing = false;  // the LLM's layers recomputed in the backward pass
  std::int64_t max_length = 0;     // tokens, visual ones included, a caption may take (0: the LLM's context)
  double max_bad_fraction = 1.0;   // of the captions, whose image may not decode (check_bad_images)
  std::size_t loader_threads = 0;  // background threads preparing images (0: the training thread)
};

struct Stage1Progress {
  std::int64_t step = 0, steps = 0;
  double loss = 0, examples_per_second = 0;
  std::int64_t peak_bytes = 0;  // this process's peak memory so far (models/torch_runtime.hpp)
};

struct Stage1Result {
  models::Projector projector{nullptr};
  std::vector<double> step_loss;     // one per optimizer step
  std::size_t examples = 0;          // trained on, per epoch
  std::size_t skipped_too_long = 0;  // captions that do not fit the context even cut (prompt_batches.hpp)
  std::size_t truncated = 0;         // captions cut to the context, as LLaVA cuts them
  // The training loop's seconds, and those it waited for the data loader's images.
  double seconds = 0, loader_wait_seconds = 0;
  // This rank's captions whose image did not decode (why, naming the file): left out of the loss,
  // their tokens still in its denominator, so every rank of the group steps alike.
  std::set<std::string> left_out;
  std::int64_t peak_bytes = 0;  // this process's peak memory at the end
};

// Frozen: no parameter of `module` takes a gradient.
void freeze(torch::nn::Module& module);

// On the ranks of `all_reduce`, this one being `rank`; every rank passes the same captions.
Stage1Result train_projector(models::LlamaForCausalLM& llm, models::VisionRepresentation& representation,
                             const std::vector<models::ImagePrompt>& captions, const Stage1Options& options,
                             AllReduce& all_reduce, int rank,
                             const std::function<void(const Stage1Progress&)>& progress = {});

// On one rank.
Stage1Result train_projector(models::LlamaForCausalLM& llm, models::VisionRepresentation& representation,
                             const std::vector<models::ImagePrompt>& captions, const Stage1Options& options,
                             const std::function<void(const Stage1Progress&)>& progress = {});

}  // namespace acsweep::train
