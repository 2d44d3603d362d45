// MME, SEED-Bench and ScienceQA read from the files their datasets ship (benchmarks.hpp).
#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "acsweep/bounded_read.hpp"
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
using detail::set_options;
using detail::text_of;
using detail::texts_of;
using nlohmann::json;

// MME: one category's question files, in name order.
void read_mme_category(Benchmark& b, const fs::path& category_folder, bool with_images) {
  const std::string category = category_folder.filename().string();
  const bool split = fs::is_directory(category_folder / "questions_answers_YN");
  const fs::path questions = split ? category_folder / "questions_answers_YN" : category_folder;
  const fs::path images = split ? category_folder / "images" : category_folder;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(questions))
    if (entry.is_regular_file() && entry.path().extension() == ".txt") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    const std::string stem = file.stem().string();
    fs::path image = images / (stem + ".jpg");
    for (const char* extension : {".png", ".jpeg"})
      if (!fs::exists(image) && fs::exists(images / (stem + extension))) image = images / (stem + extension);
    std::istringstream lines(read_bounded(file.string(), kMaxConfigBytes, "an MME question file"));
    std::string line;
    for (std::size_t number = 1; std::getline(lines, line); ++number) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      try {
        const auto tab = line.rfind('\t');
        if (tab == std::string::npos) throw std::invalid_argument("not 'question<TAB>answer'");
        std::string answer = line.substr(tab + 1);
        answer.erase(std::remove(answer.begin(), answer.end(), ' '), answer.end());
        if (answer != "Yes" && answer != "No" && answer != "yes" && answer != "no")
          throw std::invalid_argument("answer '" + answer + "' is not Yes or No");
        BenchmarkItem item;
        item.id = category + "/" + stem + "/" + std::to_string(number);
        item.question = line.substr(0, tab);
        item.category = category;
        item.image = image.string();
        item.answer = (answer == "Yes" || answer == "yes") ? 0 : 1;
        check_image(item, with_images);
        b.items.push_back(std::move(item));
      } catch (const std::exception& e) {
        b.skipped.push_back(file.string() + ": line " + std::to_string(number) + ": " + e.what());
      }
    }
  }
}

}  // namespace

Benchmark read_mme(const std::string& folder, const std::string& name, bool with_images) {
  if (!fs::is_directory(folder))
    throw InputError(folder + ": MME is read from its release folder (a folder per category)");
  Benchmark b{name, BenchmarkKind::mme, VqaDataset::none, {}, {}};
  std::vector<fs::path> categories;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_directory()) categories.push_back(entry.path());
  std::sort(categories.begin(), categories.end());
  for (const auto& category : categories) read_mme_category(b, category, with_images);
  return finished(std::move(b), folder);
}

Benchmark read_seedbench(const std::string& path, const std::string& name, bool with_images) {
  const json doc = parsed_json(path);
  if (!doc.is_object() || !doc.contains("questions") || !doc["questions"].is_array())
    throw InputError(path + ": not SEED-Bench.json (no 'questions' list)");
  std::map<std::string, std::string> types;  // id -> name
  if (doc.contains("question_type") && doc["question_type"].is_object())
    for (const auto& [type, id] : doc["question_type"].items()) types[id.dump()] = type;
  const std::string images = (fs::path(path).parent_path() / "SEED-Bench-image").string();
  Benchmark b{name, BenchmarkKind::seedbench, VqaDataset::none, {}, {}};
  std::size_t video = 0;
  const auto& questions = doc["questions"];
  for (std::size_t i = 0; i < questions.size(); ++i) {
    try {
      const json& q = questions[i];
      if (q.value("data_type", "image") != "image") {
        ++video;
        continue;
      }
      BenchmarkItem item;
      item.id = id_of(q, "question_id");
      item.question = text_of(q, "question");
      const std::string type = q.contains("question_type_id") ? q["question_type_id"].dump() : "";
      item.category = types.count(type) ? types[type] : "all";
      item.image = data::resolve_inside(images, text_of(q, "data_id"), "image");
      const std::string answer = text_of(q, "answer");
      set_options(
          item,
          {text_of(q, "choice_a"), text_of(q, "choice_b"), text_of(q, "choice_c"), text_of(q, "choice_d")},
          answer.size() == 1 ? static_cast<std::size_t>(answer[0] - 'A') : 26);
      check_image(item, with_images);
      b.items.push_back(std::move(item));
    } catch (const std::exception& e) {
      b.skipped.push_back(path + ": question " + std::to_string(i) + ": " + e.what());
    }
  }
  if (video > 0)
    b.skipped.push_back(path + ": " + std::to_string(video) +
                        " video questions left out (the image questions are seed_image)");
  return finished(std::move(b), path);
}

Benchmark read_scienceqa(const std::string& path, const std::string& name, bool with_images) {
  const fs::path folder = fs::path(path).parent_path();
  const std::string splits_path = (folder / "pid_splits.json").string();
  if (!fs::is_regular_file(splits_path))
    throw InputError(path + ": its pid_splits.json is missing beside it");
  const json problems = parsed_json(path), splits = parsed_json(splits_path);
  if (!problems.is_object()) throw InputError(path + ": not ScienceQA's problems.json (an object by pid)");
  if (!splits.is_object() || !splits.contains("test") || !splits["test"].is_array())
    throw InputError(splits_path + ": no 'test' list of pids");
  const fs::path images =
      fs::is_directory(folder / "images" / "test") ? folder / "images" / "test" : folder / "test";
  Benchmark b{name, BenchmarkKind::scienceqa, VqaDataset::none, {}, {}};
  for (const auto& pid_json : splits["test"]) {
    const std::string pid = pid_json.is_string() ? pid_json.get<std::string>() : pid_json.dump();
    try {
      if (!problems.contains(pid)) throw std::invalid_argument("not in problems.json");
      const json& p = problems[pid];
      if (!p.contains("image") || !p["image"].is_string()) continue;  // not ScienceQA-IMG
      BenchmarkItem item;
      item.id = pid;
      const std::string hint =
          p.contains("hint") && p["hint"].is_string() ? p["hint"].get<std::string>() : "";
      item.question = (hint.empty() ? "" : "Context: " + hint + "\n") + text_of(p, "question");
      item.category = p.value("subject", "all");
      item.image = data::resolve_inside((images / pid).string(), text_of(p, "image"), "image");
      if (!p.contains("choices") || !p["choices"].is_array()) throw std::invalid_argument("no 'choices'");
      std::vector<std::string> choices = texts_of(p["choices"]);
      if (!p.contains("answer") || !p["answer"].is_number_unsigned())
        throw std::invalid_argument("no 'answer'");
      set_options(item, std::move(choices), p["answer"].get<std::size_t>());
      check_image(item, with_images);
      b.items.push_back(std::move(item));
    } catch (const std::exception& e) {
      b.skipped.push_back(path + ": problem " + pid + ": " + e.what());
    }
  }
  return finished(std::move(b), path);
}

}  // namespace acsweep::eval
