// acsweep tokenize FOLDER [--template NAME] [--json] TEXT...: the ids and pieces of each text as
// the model's tokenizer encodes it, so a user can check a new model's tokenizer against
// transformers' before a run (models/tokenizer.hpp).
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "acsweep/bounded_read.hpp"
#include "acsweep/cli/commands.hpp"
#include "acsweep/data/llava.hpp"
#include "acsweep/error.hpp"
#include "acsweep/models/tokenizer.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/runtime/option_errors.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace acsweep::cli {
namespace {

constexpr const char* kUsage =
    "acsweep tokenize FOLDER [--template none|plain|vicuna_v1|qwen_2] [--json] TEXT...";
// LLaVA's IMAGE_TOKEN_INDEX: where an image's visual tokens go in a templated prompt.
constexpr std::int64_t kImageTokenIndex = -200;

}  // namespace

int run_tokenize(const std::vector<std::string>& args, const CommandContext& context) {
  po::options_description options("acsweep tokenize options");
  options.add_options()("template", po::value<std::string>()->default_value("none"),
                        "none: the text as it is; plain: as a Stage-1 caption after the image; "
                        "vicuna_v1 or qwen_2: as the user's turn of a conversation in that template, up to "
                        "where the answer starts (an image's place shows as -200)")(
      "json", po::bool_switch(), "print one JSON array: {\"text\", \"ids\", \"pieces\"} per TEXT");
  po::options_description all;
  all.add(options).add_options()("help,h", "show this help")("folder", po::value<std::string>(), "FOLDER")(
      "text", po::value<std::vector<std::string>>(), "TEXT");
  po::positional_options_description positional;
  positional.add("folder", 1).add("text", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError("acsweep tokenize: " + runtime::option_error_text(e) + "\nusage: " + kUsage);
  }
  if (vm.count("help")) {
    std::cout << "usage: " << kUsage << "\n\n" << options << "\n";
    return 0;
  }
  if (!vm.count("folder") || !vm.count("text"))
    throw InputError(std::string("acsweep tokenize: a FOLDER and at least one TEXT\nusage: ") + kUsage);
  const std::string chosen = vm["template"].as<std::string>();
  if (chosen != "none" && chosen != "plain" && chosen != "vicuna_v1" && chosen != "qwen_2")
    throw InputError("acsweep tokenize: --template must be none, plain, vicuna_v1 or qwen_2, not '" + chosen +
                     "'");
  const fs::path folder = vm["folder"].as<std::string>();
  const fs::path model = models::tokenizer_file(folder.string());
  if (context.mpi.rank() != 0) return 0;
  const models::Tokenizer tokenizer(model.string());

  nlohmann::json out = nlohmann::json::array();
  for (const auto& text : vm["text"].as<std::vector<std::string>>()) {
    std::vector<std::int64_t> ids;
    if (chosen == "none") {
      ids = tokenizer.prefix_ids();
      for (const auto id : tokenizer.encode(text)) ids.push_back(id);
    } else {
      const auto pieces = chosen == "plain" ? data::plain_template({"", "", {{"gpt", text}}})
                                            : data::chat_prompt(data::chat_template_named(chosen),
                                                                {"", "", {{"human", text}}});
      const auto prompt = models::tokenize_prompt(tokenizer, pieces);
      std::size_t next_image = 0;
      for (std::size_t i = 0; i <= prompt.ids.size(); ++i) {
        while (next_image < prompt.image_positions.size() && prompt.image_positions[next_image] == i) {
          ids.push_back(kImageTokenIndex);
          ++next_image;
        }
        if (i < prompt.ids.size()) ids.push_back(prompt.ids[i]);
      }
    }
    for (const auto id : tokenizer.suffix_ids()) ids.push_back(id);
    std::vector<std::string> pieces;
    for (const auto id : ids) pieces.push_back(id == kImageTokenIndex ? "<image>" : tokenizer.piece(id));
    if (vm["json"].as<bool>()) {
      out.push_back({{"text", text}, {"ids", ids}, {"pieces", pieces}});
      continue;
    }
    std::printf("text: %s\nids:", nlohmann::json(text).dump().c_str());
    for (const auto id : ids) std::printf(" %lld", static_cast<long long>(id));
    std::printf("\npieces:");
    for (const auto& p : pieces) std::printf(" %s", nlohmann::json(p).dump().c_str());
    std::printf("\n");
  }
  if (vm["json"].as<bool>()) std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace acsweep::cli
