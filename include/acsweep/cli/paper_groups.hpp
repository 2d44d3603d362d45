#pragma once
// The paper's benchmark groups: vision-centred and OCR-centred (LAW.md, "Data shipped").
#include <string>
#include <vector>

namespace acsweep::cli {

struct PaperGroupR2 {
  std::string name;     // "vision" or "ocr"
  std::string members;  // "MMBench, MME, ..."
  double mean_r2 = 0.0;
};

// Mean R^2 of each group whose benchmarks are all present in `benchmarks`.
std::vector<PaperGroupR2> paper_group_r2(const std::vector<std::string>& benchmarks,
                                         const std::vector<double>& r2);

}  // namespace acsweep::cli
