#include "acsweep/law/paper_groups.hpp"

#include <algorithm>
#include <cctype>

namespace acsweep::law {
namespace {

// Lower case, letters and digits only.
std::string key(const std::string& name) {
  std::string out;
  for (const char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::vector<PaperGroupR2> paper_group_r2(const std::vector<std::string>& benchmarks,
                                         const std::vector<double>& r2) {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> kGroups = {
      {"vision", {"MMBench", "MME", "OKVQA", "SEED-Bench"}},
      {"ocr", {"MMMU", "TextVQA", "VizWiz", "ScienceQA"}},
  };
  std::vector<PaperGroupR2> out;
  for (const auto& [name, members] : kGroups) {
    PaperGroupR2 group{name, "", 0.0};
    bool complete = true;
    for (const auto& member : members) {
      const auto it =
          std::find_if(benchmarks.begin(), benchmarks.end(),
                       [&member = member](const std::string& b) { return key(b) == key(member); });
      if (it == benchmarks.end()) {
        complete = false;
        break;
      }
      group.mean_r2 +=
          r2[static_cast<std::size_t>(it - benchmarks.begin())] / static_cast<double>(members.size());
      group.members += (group.members.empty() ? "" : ", ") + *it;
    }
    if (complete) out.push_back(group);
  }
  return out;
}

}  // namespace acsweep::law
