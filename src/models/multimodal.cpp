#include "acsweep/models/multimodal.hpp"

#include <algorithm>
#include <stdexcept>

#include "acsweep/data/image.hpp"
#include "acsweep/error.hpp"
#include "acsweep/models/recompute.hpp"

namespace acsweep::models {
namespace {

// The float32 logits one chunk of the loss may hold: [rows, vocab] at most this many bytes.
constexpr std::int64_t kLogitChunkBytes = std::int64_t{64} << 20;

}  // namespace

std::vector<ImagePrompt> plain_captions(const Tokenizer& tokenizer, const data::LlavaDataset& dataset) {
  std::vector<ImagePrompt> out;
  for (const auto& example : dataset.examples)
    if (!example.image.empty())
      out.push_back({example.id, example.image, tokenize_prompt(tokenizer, data::plain_template(example))});
  return out;
}

std::vector<ImagePrompt> chat_conversations(const Tokenizer& tokenizer, const data::LlavaDataset& dataset,
                                            data::ChatTemplate chat, std::size_t& left_out) {
  std::vector<ImagePrompt> out;
  left_out = 0;
  for (const auto& example : dataset.examples) {
    if (!data::trained_in_stage2(example)) {
      ++left_out;
      continue;
    }
    // An image shown once, or a text-only conversation (as LLaVA trains it: no visual tokens); an
    // item with an image whose text never shows it is trained on its text, as LLaVA does.
    auto prompt = tokenize_prompt(tokenizer, data::chat_prompt(chat, data::image_first(example)));
    out.push_back({example.id, prompt.image_positions.empty() ? "" : example.image, std::move(prompt)});
  }
  return out;
}

torch::Tensor visual_tokens(VisionRepresentation& representation, const std::vector<std::string>& images) {
  std::vector<data::Image> decoded;
  for (const auto& path : images) decoded.push_back(data::decode_image(path));
  return visual_tokens(representation, decoded);
}

torch::Tensor visual_tokens(VisionRepresentation& representation, const std::vector<data::Image>& images,
                            VisionRepresentation::Aspect aspect) {
  return visual_tokens(representation, representation.prepare(images, aspect));
}

torch::Tensor visual_tokens(VisionRepresentation& representation,
                            const VisionRepresentation::Prepared& prepared) {
  torch::NoGradGuard frozen;
  return representation.encode(prepared).features.flatten(2).transpose(1, 2).contiguous();
}

TrainingImages prepare_for_training(const VisionRepresentation& representation,
                                    const std::vector<std::string>& paths) {
  TrainingImages out;
  const data::Image stand_in{64, 64, std::vector<std::uint8_t>(64 * 64 * 3, 0)};  // black
  std::vector<data::Image> images;
  for (const auto& path : paths) {
    if (path.empty()) {  // a text-only conversation: a stand-in its prompt never shows
      images.push_back(stand_in);
      out.usable.push_back(true);
      continue;
    }
    try {
      images.push_back(data::decode_image(path));
      out.usable.push_back(true);
    } catch (const InputError& e) {
      out.left_out.insert(e.what());
      images.push_back(stand_in);
      out.usable.push_back(false);
    }
  }
  out.prepared = representation.prepare(images);
  return out;
}

torch::Tensor without_unusable(const torch::Tensor& log_probs, const std::vector<std::int64_t>& counts,
                               const std::vector<bool>& usable) {
  if (std::all_of(usable.begin(), usable.end(), [](bool u) { return u; })) return log_probs;
  std::vector<float> weights;
  for (std::size_t b = 0; b < counts.size(); ++b)
    weights.insert(weights.end(), static_cast<std::size_t>(counts[b]), usable[b] ? 1.0f : 0.0f);
  return log_probs * torch::tensor(weights).to(log_probs.device(), log_probs.scalar_type());
}

std::size_t spliced_length(const TokenizedPrompt& prompt, std::size_t visual_tokens) {
  return prompt.ids.size() + visual_tokens * prompt.image_positions.size();
}

torch::Tensor spliced_embeddings(LlamaForCausalLM& llm, const TokenizedPrompt& prompt,
                                 const torch::Tensor& visual) {
  const auto per_image = visual.dim() == 2 ? visual.unsqueeze(0) : visual;  // [images, L, D]
  if (per_image.dim() != 3 || per_image.size(0) != static_cast<std::int64_t>(prompt.image_positions.size()))
    throw std::invalid_argument("spliced_embeddings: " + std::to_string(prompt.image_positions.size()) +
                                " images in the prompt, " + std::to_string(per_image.size(0)) +
                                " visuals given");
  const auto text =
      llm->embed(torch::tensor(prompt.ids, torch::kInt64).to(llm->head_weight().device()).unsqueeze(0))
          .squeeze(0);
  std::vector<torch::Tensor> parts;
  std::int64_t from = 0;
  for (std::size_t k = 0; k < prompt.image_positions.size(); ++k) {
    const auto at = static_cast<std::int64_t>(prompt.image_positions[k]);
    parts.push_back(text.slice(0, from, at));
    parts.push_back(per_image[static_cast<std::int64_t>(k)].to(text.dtype()));
    from = at;
  }
  parts.push_back(text.slice(0, from));
  return torch::cat(parts);
}

torch::Tensor trainable_token_log_probs(LlamaForCausalLM& llm,
                                        const std::vector<const TokenizedPrompt*>& prompts,
                                        const torch::Tensor& visual, std::vector<std::int64_t>& counts,
                                        std::int64_t chunk_rows) {
  if (visual.dim() != 3 || visual.size(0) != static_cast<std::int64_t>(prompts.size()))
    throw std::invalid_argument("trainable_token_log_probs: visual must be [B, L, D], one per prompt");
  const auto L = static_cast<std::size_t>(visual.size(1));
  const auto device = visual.device();
  std::size_t longest = 0;
  for (const auto* p : prompts) {
    if (p->image_positions.size() > 1)
      throw std::invalid_argument("trainable_token_log_probs: a prompt holds one image at most");
    longest = std::max(longest, spliced_length(*p, L));
  }
  const auto context = static_cast<std::size_t>(llm->config().max_position_embeddings);
  if (longest > context)
    throw InputError("prompt of " + std::to_string(longest) + " tokens (with " + std::to_string(L) +
                     " visual tokens) is longer than the LLM's context of " + std::to_string(context));

  const auto T = static_cast<std::int64_t>(longest);
  std::vector<torch::Tensor> rows;
  std::vector<std::int64_t> predict_from, targets;  // flat index b*T + t of the logit row, and its token
  counts.assign(prompts.size(), 0);
  for (std::size_t b = 0; b < prompts.size(); ++b) {
    const TokenizedPrompt& p = *prompts[b];
    // A text-only prompt leaves its row of `visual` out (LLaVA's text-only conversations).
    const auto shown = static_cast<std::int64_t>(p.image_positions.size());
    auto row =
        spliced_embeddings(llm, p, visual[static_cast<std::int64_t>(b)].unsqueeze(0).slice(0, 0, shown));
    if (row.size(0) < T) row = torch::cat({row, torch::zeros({T - row.size(0), row.size(1)}, row.options())});
    rows.push_back(row);
    for (std::size_t i = 0; i < p.ids.size(); ++i) {
      if (!p.trainable[i]) continue;
      const auto position = static_cast<std::int64_t>(shown == 1 && i >= p.image_positions[0] ? i + L : i);
      if (position == 0)
        throw std::invalid_argument("trainable_token_log_probs: the first token has no context");
      predict_from.push_back(static_cast<std::int64_t>(b) * T + position - 1);
      targets.push_back(p.ids[i]);
      ++counts[b];
    }
    if (counts[b] == 0)
      throw std::invalid_argument("trainable_token_log_probs: a prompt has no trainable token");
  }
  const auto hidden = llm->hidden_states(torch::stack(rows));  // [B, T, D]
  const auto picked =
      hidden.reshape({-1, hidden.size(2)}).index_select(0, torch::tensor(predict_from).to(device));
  // The head only on the positions that predict a trainable token, a chunk of them at a time,
  // each chunk's logits recomputed in the backward instead of kept: no [B, T, vocab] tensor is
  // made, and at most one chunk's [rows, vocab] is alive.
  const auto wanted = torch::tensor(targets).to(device);
  const auto weight = llm->head_weight();
  const std::int64_t n = picked.size(0);
  const std::int64_t chunk =
      chunk_rows > 0 ? chunk_rows : std::max<std::int64_t>(1, kLogitChunkBytes / (4 * weight.size(0)));
  std::vector<torch::Tensor> parts;
  for (std::int64_t begin = 0; begin < n; begin += chunk) {
    const auto these = wanted.slice(0, begin, std::min(n, begin + chunk)).unsqueeze(1);
    const auto log_probs = [weight, these](const torch::Tensor& h) {
      return torch::log_softmax(torch::nn::functional::linear(h, weight).to(torch::kFloat32), -1)
          .gather(1, these)
          .squeeze(1);
    };
    parts.push_back(recomputed(log_probs, picked.slice(0, begin, std::min(n, begin + chunk)), {weight}));
  }
  return parts.size() == 1 ? parts[0] : torch::cat(parts);
}

}  // namespace acsweep::models
