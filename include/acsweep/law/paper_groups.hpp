#pragma once
// The paper's benchmark groups: vision-centred and OCR-centred (LAW.md, "Data shipped"). A
// benchmark is recognised by its name in any case and spelling of separators: "OKVQA", "okvqa",
// "ok_vqa" and "OK-VQA" are OK-VQA; "seedbench" and "SEED-Bench" are SEED-Bench.
#include <string>
#include <vector>

namespace acsweep::law {

struct PaperGroupR2 {
  std::string name;     // "vision" or "ocr"
  std::string members;  // the benchmarks, named as given: "MMBench, MME, ..."
  double mean_r2 = 0.0;
};

// Mean R^2 of each group whose benchmarks are all present in `benchmarks`.
std::vector<PaperGroupR2> paper_group_r2(const std::vector<std::string>& benchmarks,
                                         const std::vector<double>& r2);

}  // namespace acsweep::law
