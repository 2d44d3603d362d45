// The open-ended benchmarks read from the files their datasets ship (benchmarks.hpp, read_vqa).
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "acsweep/data/llava.hpp"
#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "dataset_files.hpp"

namespace acsweep::eval {
namespace {
namespace fs = std::filesystem;
using detail::check_image;
using detail::finished;
using detail::id_of;
using detail::parsed_json;
using detail::text_of;
using nlohmann::json;

// Human answers: strings, or objects with an "answer" string.
std::vector<std::string> answers_of(const json& object) {
  if (!object.contains("answers") || !object["answers"].is_array())
    throw std::invalid_argument("no 'answers'");
  std::vector<std::string> out;
  for (const auto& a : object["answers"]) {
    if (a.is_string()) out.push_back(a.get<std::string>());
    if (a.is_object() && a.contains("answer") && a["answer"].is_string())
      out.push_back(a["answer"].get<std::string>());
  }
  if (out.empty()) throw std::invalid_argument("no answer");
  return out;
}

// Each element of `items` through `make`, skipped (and named: file, index, why) when it throws.
template <typename Make>
void read_items(Benchmark& b, const std::string& path, const json& items, bool with_images, Make make) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    try {
      BenchmarkItem item = make(items[i]);
      check_image(item, with_images);
      b.items.push_back(std::move(item));
    } catch (const std::exception& e) {
      b.skipped.push_back(path + ": item " + std::to_string(i) + ": " + e.what());
    }
  }
}

void read_okvqa(Benchmark& b, const std::string& path, const json& questions, bool with_images) {
  const fs::path folder = fs::path(path).parent_path();
  std::string name = fs::path(path).filename().string();  // OpenEnded_mscoco_val2014_questions.json
  const auto at = name.find("questions");
  if (name.rfind("OpenEnded_", 0) != 0 || at == std::string::npos)
    throw InputError(path + ": an OK-VQA question file is named OpenEnded_<split>_questions.json");
  const std::string annotations_path =
      (folder / (name.substr(10, at - 10) + "annotations" + name.substr(at + 9))).string();
  if (!fs::is_regular_file(annotations_path))
    throw InputError(path + ": its annotations " + annotations_path + " are missing");
  const json annotations = parsed_json(annotations_path);
  if (!annotations.contains("annotations") || !annotations["annotations"].is_array())
    throw InputError(annotations_path + ": no 'annotations' list");
  std::map<std::string, const json*> by_question;
  for (const auto& a : annotations["annotations"])
    if (a.is_object() && a.contains("question_id")) by_question[a["question_id"].dump()] = &a;
  const fs::path images = folder / "val2014";
  read_items(b, path, questions["questions"], with_images, [&](const json& q) {
    BenchmarkItem item;
    item.id = id_of(q, "question_id");
    item.question = text_of(q, "question");
    const auto found = by_question.find(item.id);
    if (found == by_question.end()) throw std::invalid_argument("question " + item.id + " has no annotation");
    item.answers = answers_of(*found->second);
    item.category = found->second->value("question_type", "all");
    char file[64];
    std::snprintf(file, sizeof file, "COCO_val2014_%012lld.jpg", std::stoll(id_of(q, "image_id")));
    item.image = (images / file).string();
    return item;
  });
}

void read_textvqa(Benchmark& b, const std::string& path, const json& doc, bool with_images) {
  const std::string images = (fs::path(path).parent_path() / "train_images").string();
  read_items(b, path, doc["data"], with_images, [&](const json& q) {
    BenchmarkItem item;
    item.id = id_of(q, "question_id");
    item.question = text_of(q, "question");
    item.answers = answers_of(q);
    item.category = "all";
    item.image = data::resolve_inside(images, text_of(q, "image_id") + ".jpg", "image");
    return item;
  });
}

void read_vizwiz(Benchmark& b, const std::string& path, const json& doc, bool with_images) {
  const std::string images = (fs::path(path).parent_path().parent_path() / "val").string();
  read_items(b, path, doc, with_images, [&](const json& q) {
    BenchmarkItem item;
    item.id = text_of(q, "image");
    item.question = text_of(q, "question");
    item.answers = answers_of(q);
    item.category = q.value("answer_type", "all");
    item.image = data::resolve_inside(images, item.id, "image");
    return item;
  });
}

}  // namespace

Benchmark read_vqa(const std::string& path, const std::string& name, bool with_images) {
  const json doc = parsed_json(path);
  Benchmark b{name, BenchmarkKind::vqa, VqaDataset::none, {}, {}};
  if (doc.is_object() && doc.contains("questions") && doc["questions"].is_array()) {
    b.dataset = VqaDataset::okvqa;
    read_okvqa(b, path, doc, with_images);
  } else if (doc.is_object() && doc.contains("data") && doc["data"].is_array()) {
    b.dataset = VqaDataset::textvqa;
    read_textvqa(b, path, doc, with_images);
  } else if (doc.is_array()) {
    b.dataset = VqaDataset::vizwiz;
    read_vizwiz(b, path, doc, with_images);
  } else {
    throw InputError(path +
                     ": not an OK-VQA question file ({\"questions\": [...]}), a TextVQA file ({\"data\": "
                     "[...]}) or a VizWiz annotation file ([...])");
  }
  return finished(std::move(b), path);
}

}  // namespace acsweep::eval
