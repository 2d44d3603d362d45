#include "acsweep/sweep/scoring_summary.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace acsweep::sweep {
namespace {

// Columns of the task rows [first, last): values[c][t - first], NaN where a row is missing.
std::vector<std::vector<double>> columns_of(const TaskRows& rows, std::size_t first, std::size_t last,
                                            std::size_t width) {
  std::vector<std::vector<double>> values(width);
  for (std::size_t t = first; t < last; ++t)
    for (std::size_t c = 0; c < width; ++c)
      values[c].push_back(rows[t] && c < rows[t]->size() ? (*rows[t])[c]
                                                         : std::numeric_limits<double>::quiet_NaN());
  return values;
}

// /known: the [known] results, a row per setting given, a column per benchmark.
void write_known(store::H5Location& root, const ScoringPlan& plan, const runtime::JobSpec& job) {
  std::vector<std::string> names, sources;
  std::vector<std::vector<double>> columns(plan.benchmark_names.size());
  for (std::size_t s = 0; s < plan.known.values.size(); ++s) {
    if (!plan.known.has(s)) continue;
    names.push_back(job.scoring->search.settings[s].name);
    sources.push_back(plan.known.source[s]);
    for (std::size_t b = 0; b < columns.size(); ++b) columns[b].push_back(plan.known.values[s][b]);
  }
  store::H5Location known = root.create_group("known");
  known.write("setting", names);
  known.write("source", sources);
  known.write("benchmarks", plan.benchmark_names);
  for (std::size_t b = 0; b < columns.size(); ++b) known.write(plan.benchmark_names[b], columns[b]);
  std::printf("\n%-28s", "known setting");
  for (const auto& name : plan.benchmark_names) std::printf("  %14s", name.c_str());
  std::printf("  source\n");
  for (std::size_t r = 0; r < names.size(); ++r) {
    std::printf("%-28s", names[r].c_str());
    for (const auto& column : columns) std::printf("  %14.4f", column[r]);
    std::printf("  %s\n", sources[r].c_str());
  }
}

}  // namespace

void write_scoring_summary(store::H5Location& root, const ScoringPlan& plan, const runtime::JobSpec& job,
                           const TaskRows& rows) {
  store::H5Location scores = root.create_group("scores");
  std::vector<std::string> names;
  const auto& columns = ScoringPlan::value_names();
  for (std::size_t t = 0; t < plan.score_tasks; ++t) names.push_back(plan.tasks[t].name);
  const auto values = columns_of(rows, 0, plan.score_tasks, columns.size());
  scores.write("setting", names);
  for (std::size_t c = 0; c < columns.size(); ++c) scores.write(columns[c], values[c]);
  scores.write("manifest", plan.heldout_ids);
  scores.write("pair", plan.pair_names);
  scores.write("pair_category", plan.pair_categories);
  scores.write("pair_keypoints", plan.pair_keypoints);
  scores.write("category", plan.categories);
  scores.set_attribute(
      "c_pooling", std::string("C: correct keypoints over all keypoints; C_per_image: per pair, averaged"));
  scores.set_attribute("alpha", job.scoring->c_score.alpha);

  // A_similarity only where [a_score] references asks for it (else every value is NaN).
  const bool similarity = !job.scoring->a_score.references.empty();
  std::printf("%-28s  %9s  %8s  %8s  %s%10s\n", "setting", "A", "C %", "C/img %",
              similarity ? "A_similarity  " : "", "stage1 loss");
  for (std::size_t t = 0; t < names.size(); ++t) {
    std::printf("%-28s  %9.4f  %8.2f  %8.2f  ", names[t].c_str(), values[0][t], values[1][t], values[2][t]);
    if (similarity) std::printf("%12.4f  ", values[3][t]);
    std::printf("%10.4f\n", values[4][t]);
  }
  if (plan.known.count() > 0) write_known(root, plan, job);
  if (plan.score_tasks == plan.tasks.size()) return;

  // /finetune: one row per finetuned setting, a column per benchmark.
  store::H5Location finetune = root.create_group("finetune");
  const auto finetune_columns = plan.finetune_value_names();
  std::vector<std::string> finetuned;  // the finetune tasks that ran (the policy's pick, or the list)
  TaskRows done;
  for (std::size_t t = plan.score_tasks; t < plan.tasks.size(); ++t) {
    if (!rows[t]) continue;
    finetuned.push_back(job.scoring->search.settings.at(std::stoul(plan.tasks[t].inputs.at("setting"))).name);
    done.push_back(rows[t]);
  }
  const auto scores_of = columns_of(done, 0, done.size(), finetune_columns.size());
  finetune.write("setting", finetuned);
  for (std::size_t c = 0; c < finetune_columns.size(); ++c) finetune.write(finetune_columns[c], scores_of[c]);
  finetune.write("benchmarks", plan.benchmark_names);
  // How each benchmark was answered: "generated" (greedy, then parsed: lmms-eval's protocol) or
  // "likelihood" (the likeliest option), beside its kind.
  const auto& f = *job.scoring->finetune;
  std::vector<std::string> kinds, answers;
  for (const auto& b : f.benchmarks) {
    kinds.push_back(b.kind);
    answers.push_back(f.answering(b.kind));
  }
  finetune.write("benchmark_kind", kinds);
  finetune.write("benchmark_answers", answers);
  finetune.set_attribute("max_new_tokens", f.max_new_tokens);
  std::printf("\n%-28s", "finetuned setting");
  // Byte counts (the Stage-2 peak memory) for people: in GiB.
  const auto in_bytes = [](const std::string& name) {
    return name.size() > 6 && name.compare(name.size() - 6, 6, "_bytes") == 0;
  };
  for (const auto& name : finetune_columns)
    std::printf("  %14s", in_bytes(name) ? (name.substr(0, name.size() - 6) + " GiB").c_str() : name.c_str());
  std::printf("\n");
  for (std::size_t r = 0; r < finetuned.size(); ++r) {
    std::printf("%-28s", finetuned[r].c_str());
    for (std::size_t c = 0; c < scores_of.size(); ++c)
      std::printf("  %14.4f", in_bytes(finetune_columns[c]) ? scores_of[c][r] / (1 << 30) : scores_of[c][r]);
    std::printf("\n");
  }
  std::printf("answers:");
  for (std::size_t b = 0; b < kinds.size(); ++b)
    std::printf(" %s %s%s", f.benchmarks[b].name.c_str(), answers[b].c_str(),
                b + 1 < kinds.size() ? "," : "");
  if (std::find(answers.begin(), answers.end(), "generated") != answers.end())
    std::printf(
        " (greedy, at most %lld new tokens, lmms-eval's 16 for mme, scienceqa and mmmu; per item in "
        "%s/predictions)",
        static_cast<long long>(f.max_new_tokens), job.output.c_str());
  std::printf("\n");
}

}  // namespace acsweep::sweep
