#include "acsweep/eval/evaluate.hpp"

#include <algorithm>

#include "acsweep/data/image.hpp"
#include "acsweep/data/llava.hpp"
#include "acsweep/data/prefetcher.hpp"
#include "acsweep/error.hpp"
#include "acsweep/models/generate.hpp"
#include "acsweep/models/multimodal.hpp"

namespace acsweep::eval {
namespace {

// The prompt of an item in the conversation template, "<image>\n" before the question (mmmu: its
// images where its question holds them), ending where the answer starts, as LLaVA's
// conv.get_prompt() does with the assistant's turn empty ("ASSISTANT:" for vicuna_v1).
std::vector<data::PromptPiece> item_prompt(const Benchmark& benchmark, const BenchmarkItem& item,
                                           data::ChatTemplate chat) {
  const std::string before =
      benchmark.kind == BenchmarkKind::mmmu ? "" : std::string(data::kImageToken) + "\n";
  const data::LlavaExample example{
      item.id, item.image, {{"human", before + question_prompt(benchmark, item)}}};
  return data::chat_prompt(chat, example);
}

// Why the item's prompt does not fit the LLM's context once its visual tokens are in; empty if it does.
std::string too_long(const Benchmark& benchmark, const BenchmarkItem& item,
                     const models::TokenizedPrompt& prompt, std::size_t visual_tokens,
                     models::LlamaForCausalLM& llm) {
  const auto length = models::spliced_length(prompt, visual_tokens);
  if (length <= static_cast<std::size_t>(llm->config().max_position_embeddings)) return "";
  return benchmark.name + ": item " + item.id + ": its prompt of " + std::to_string(length) +
         " tokens is longer than the LLM's context";
}

// An item that cannot be asked: named in `left_out`, or an InputError without it.
void leave_out(std::vector<std::string>* left_out, const std::string& why) {
  if (!left_out) throw InputError(why);
  left_out->push_back(why);
}

}  // namespace

std::vector<double> shared_prompt_log_likelihoods(models::LlamaForCausalLM& llm,
                                                  const models::TokenizedPrompt& asked,
                                                  const std::vector<models::TokenizedPrompt>& prompts,
                                                  const torch::Tensor& visual) {
  const std::size_t n = asked.ids.size();
  for (const auto& p : prompts) {
    if (p.ids.size() <= n || p.image_positions != asked.image_positions ||
        !std::equal(asked.ids.begin(), asked.ids.end(), p.ids.begin()))
      return {};
    for (std::size_t i = 0; i < p.ids.size(); ++i)
      if (p.trainable[i] != (i >= n)) return {};
  }
  const auto device = llm->head_weight().device();
  const auto real = [&device](std::int64_t length) {
    return torch::ones({1, length}, torch::TensorOptions().dtype(torch::kBool).device(device));
  };
  const auto positions = [&device](std::int64_t from, std::int64_t count) {
    return torch::arange(from, from + count, torch::TensorOptions().dtype(torch::kInt64).device(device))
        .unsqueeze(0);
  };
  const auto embedded = models::spliced_embeddings(llm, asked, visual).unsqueeze(0);  // [1, T, D]
  const std::int64_t T = embedded.size(1);
  models::KVCache cache;
  const auto hidden =
      llm->hidden_states(embedded, positions(0, T), models::decoding_mask(real(T), T), &cache);
  const auto first =
      torch::log_softmax(llm->logits(hidden[0][T - 1]).to(torch::kFloat32), -1).to(torch::kCPU);
  std::vector<double> out;
  for (const auto& p : prompts) {
    const std::vector<std::int64_t> tail(p.ids.begin() + static_cast<long>(n), p.ids.end());
    double total = first[tail[0]].item<double>();
    if (tail.size() > 1) {  // the rest of the candidate, each token after those before it
      auto mine = cache;    // appending makes new tensors: the question's cache stays as it is
      const auto m = static_cast<std::int64_t>(tail.size()) - 1;
      const auto ids = torch::tensor(std::vector<std::int64_t>(tail.begin(), tail.end() - 1)).to(device);
      const auto h = llm->hidden_states(llm->embed(ids.unsqueeze(0)), positions(T, m),
                                        models::decoding_mask(real(T + m), m), &mine);
      const auto rest = torch::log_softmax(llm->logits(h[0]).to(torch::kFloat32), -1).to(torch::kCPU);
      for (std::int64_t j = 0; j < m; ++j)
        total += rest[j][tail[static_cast<std::size_t>(j) + 1]].item<double>();
    }
    out.push_back(total);
  }
  return out;
}

models::VisionRepresentation::Aspect image_aspect(BenchmarkKind kind) {
  return original_aspect(kind) ? models::VisionRepresentation::Aspect::original
                               : models::VisionRepresentation::Aspect::configured;
}

std::vector<std::size_t> choose_answers(const Benchmark& benchmark, models::LlamaForCausalLM& llm,
                                        models::Projector& projector,
                                        models::VisionRepresentation& representation,
                                        const models::Tokenizer& tokenizer,
                                        const std::function<void(std::size_t)>& progress,
                                        std::vector<std::string>* left_out, std::size_t loader_threads,
                                        data::ChatTemplate chat) {
  torch::NoGradGuard frozen;
  std::vector<std::size_t> chosen;
  // Each item's image prepared ahead on the loader's threads, or why it could not be.
  struct Prepared {
    models::VisionRepresentation::Prepared image;
    std::string bad;
  };
  data::Prefetcher<Prepared> loader(
      benchmark.items.size(),
      [&](std::size_t i) {
        Prepared p;
        try {
          p.image = representation.prepare({item_image(benchmark.items[i])}, image_aspect(benchmark.kind));
        } catch (const InputError& e) {
          p.bad = e.what();
        }
        return p;
      },
      loader_threads);
  for (const auto& item : benchmark.items) {
    const Prepared image = loader.next();
    const auto question = item_prompt(benchmark, item, chat);
    std::vector<models::TokenizedPrompt> prompts;
    for (const auto& answer : candidate_answers(benchmark, item)) {
      auto pieces = question;
      pieces.push_back({data::PromptPiece::Kind::Text, data::answer_lead(chat) + answer, true});
      prompts.push_back(models::tokenize_prompt(tokenizer, pieces));
    }
    std::vector<const models::TokenizedPrompt*> batch;
    for (const auto& p : prompts) batch.push_back(&p);
    if (!image.bad.empty()) {
      leave_out(left_out, image.bad);
      chosen.push_back(kNotAsked);
      if (progress) progress(chosen.size());
      continue;
    }
    const auto visual = projector->forward(models::visual_tokens(representation, image.image));
    std::string why;
    for (const auto& p : prompts)
      if (why.empty()) why = too_long(benchmark, item, p, static_cast<std::size_t>(visual.size(1)), llm);
    if (!why.empty()) {
      leave_out(left_out, why);
      chosen.push_back(kNotAsked);
      if (progress) progress(chosen.size());
      continue;
    }
    // The question once, each option after it from its cache; else each whole prompt.
    auto totals =
        shared_prompt_log_likelihoods(llm, models::tokenize_prompt(tokenizer, question), prompts, visual[0]);
    if (totals.empty()) {
      std::vector<std::int64_t> counts;
      const auto log_probs =
          models::trainable_token_log_probs(
              llm, batch, visual.expand({static_cast<std::int64_t>(batch.size()), -1, -1}), counts)
              .to(torch::kCPU);
      std::int64_t start = 0;
      for (const auto count : counts) {
        totals.push_back(log_probs.slice(0, start, start + count).sum().item<double>());
        start += count;
      }
    }
    std::size_t best = 0;
    double best_value = -1e300;
    for (std::size_t k = 0; k < totals.size(); ++k)
      if (totals[k] > best_value) {  // ties go to the earlier candidate
        best_value = totals[k];
        best = k;
      }
    chosen.push_back(best);
    if (progress) progress(chosen.size());
  }
  return chosen;
}

std::vector<std::optional<std::string>> generate_answers(
    const Benchmark& benchmark, models::LlamaForCausalLM& llm, models::Projector& projector,
    models::VisionRepresentation& representation, const models::Tokenizer& tokenizer,
    const GenerationSettings& settings, const std::function<void(std::size_t)>& progress,
    std::vector<std::string>* left_out) {
  torch::NoGradGuard frozen;
  std::vector<std::optional<std::string>> texts(benchmark.items.size());
  models::GenerationOptions options;
  options.max_new_tokens = settings.max_new_tokens;
  options.stop_tokens = {tokenizer.eos_id()};
  const std::string stop_string = data::next_turn_marker(settings.chat);
  options.stop = [&tokenizer, &stop_string](const std::vector<std::int64_t>& tokens) {
    return !stop_string.empty() && tokenizer.decode(tokens).find(stop_string) != std::string::npos;
  };
  const std::size_t batch = std::max<std::size_t>(1, settings.batch);
  // A batch's images prepared ahead on the loader's threads: the items asked, where each one's
  // images start, and why the others are not asked.
  struct Batch {
    std::vector<std::size_t> asked;
    std::vector<std::int64_t> image_start{0};  // asked item k's images: [image_start[k], image_start[k + 1])
    std::size_t images = 0;
    models::VisionRepresentation::Prepared prepared;
    std::vector<std::string> bad;
  };
  data::Prefetcher<Batch> loader(
      (benchmark.items.size() + batch - 1) / batch,
      [&](std::size_t b) {
        Batch out;
        std::vector<data::Image> images;  // every asked item's, in order
        for (std::size_t i = b * batch; i < std::min(benchmark.items.size(), (b + 1) * batch); ++i) {
          try {
            auto mine = item_images(benchmark.items[i]);
            for (auto& image : mine) images.push_back(std::move(image));
            out.image_start.push_back(static_cast<std::int64_t>(images.size()));
            out.asked.push_back(i);
          } catch (const InputError& e) {
            out.bad.push_back(e.what());
          }
        }
        out.images = images.size();
        if (!images.empty()) out.prepared = representation.prepare(images, image_aspect(benchmark.kind));
        return out;
      },
      settings.loader_threads);
  for (std::size_t first = 0; first < benchmark.items.size(); first += batch) {
    const std::size_t last = std::min(benchmark.items.size(), first + batch);
    const Batch next = loader.next();
    for (const auto& why : next.bad) leave_out(left_out, why);
    const auto& asked = next.asked;
    const auto& image_start = next.image_start;
    if (!asked.empty()) {
      // [images, L, D]; an empty [0, 0, D] when no asked item shows an image (an mmmu text question)
      const auto visual = next.images == 0
                              ? torch::zeros({0, 0, llm->config().hidden_size}, llm->head_weight().options())
                              : projector->forward(models::visual_tokens(representation, next.prepared));
      std::vector<torch::Tensor> prompts;
      std::vector<std::size_t> fits;  // the items whose prompt fits the LLM's context
      for (std::size_t k = 0; k < asked.size(); ++k) {
        const auto& item = benchmark.items[asked[k]];
        const auto prompt = models::tokenize_prompt(tokenizer, item_prompt(benchmark, item, settings.chat));
        if (const auto why = too_long(benchmark, item, prompt, static_cast<std::size_t>(visual.size(1)), llm);
            !why.empty()) {
          leave_out(left_out, why);
          continue;
        }
        prompts.push_back(
            models::spliced_embeddings(llm, prompt, visual.slice(0, image_start[k], image_start[k + 1])));
        fits.push_back(asked[k]);
      }
      const auto generated = models::generate_greedy(llm, prompts, options);
      for (std::size_t k = 0; k < fits.size(); ++k) {
        std::string text = tokenizer.decode(generated[k]);
        if (const auto stop = stop_string.empty() ? std::string::npos : text.find(stop_string);
            stop != std::string::npos)
          text.resize(stop);
        texts[fits[k]] = std::move(text);
      }
    }
    if (progress) progress(last);
  }
  return texts;
}

}  // namespace acsweep::eval
