#include "acsweep/sweep/policy.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>

#include "acsweep/error.hpp"
#include "acsweep/law/ac_policy.hpp"
#include "acsweep/law/fit.hpp"
#include "acsweep/law/normalise.hpp"
#include "acsweep/law/paper_groups.hpp"
#include "acsweep/law/policy_simulation.hpp"
#include "acsweep/law/region_sampler.hpp"
#include "acsweep/law/seeded_rng.hpp"
#include "acsweep/law/sequential_sampler.hpp"
#include "acsweep/law/simulation_report.hpp"
#include "acsweep/law/table.hpp"
#include "acsweep/law/table_fit.hpp"
#include "acsweep/store/results_file.hpp"
#include "acsweep/store/text_file.hpp"
#include "acsweep/sweep/memory_plan.hpp"
#include "acsweep/sweep/seed_streams.hpp"

namespace acsweep::sweep {
namespace {

constexpr std::size_t kValidationRuns = 1000;  // the paper's R
constexpr std::size_t kShortlist = 3;

// Score-row columns (ScoringPlan::value_names()).
constexpr std::size_t kA = 0, kC = 1;

double cell(const TaskRows& rows, std::size_t task, std::size_t column) {
  if (task == std::string::npos || !rows.at(task) || column >= rows[task]->size()) return std::nan("");
  return (*rows[task])[column];
}

bool varies(const std::vector<double>& values) {
  return !values.empty() &&
         *std::max_element(values.begin(), values.end()) > *std::min_element(values.begin(), values.end());
}

// The mean of |a[i] - b[i]|: a leave-one-out error in the benchmark's units.
double mean_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += std::abs(a[i] - b[i]);
  return sum / static_cast<double>(a.size());
}

std::vector<double> to_unit(const std::vector<double>& values) {
  const law::MinMax range = law::range_or_unit(values);
  std::vector<double> out;
  for (const double v : values) out.push_back(range.apply(v));
  return out;
}

// A setting's result on benchmark `b`: given in [known], or its finetune's (NaN: none).
double finetuned_value(const ScoringPlan& plan, const TaskRows& rows, std::size_t setting, std::size_t b) {
  if (plan.known.has(setting)) return plan.known.values[setting][b];
  return cell(rows, plan.finetune_task[setting], b);
}

const std::string& setting_name(const runtime::JobSpec& job, std::size_t setting) {
  return job.scoring->search.settings.at(setting).name;
}

// A parameter count for people: 6.74B, 21.0M, 4.2K.
std::string count_text(double n) {
  char text[32];
  if (n >= 1e9)
    std::snprintf(text, sizeof text, "%.2fB", n / 1e9);
  else if (n >= 1e6)
    std::snprintf(text, sizeof text, "%.1fM", n / 1e6);
  else
    std::snprintf(text, sizeof text, "%.1fK", n / 1e3);
  return text;
}

// The saving in the paper's terms: the finetunes avoided, and what scoring a setting trains
// (Stage 1: its projector) against what a finetune trains (Stage 2: the projector and the LLM).
void print_saving(const runtime::JobSpec& job, const PolicyPick& pick, std::size_t finetuned) {
  const std::size_t avoided = pick.scored.size() - finetuned;
  std::printf("  %zu finetunes avoided (%.0f%% of the %zu settings scored)", avoided,
              100.0 * static_cast<double>(avoided) / static_cast<double>(pick.scored.size()),
              pick.scored.size());
  double low = 0, high = 0, stage2 = 0;  // Stage 1's fewest and most; Stage 2's most
  try {
    for (const auto s : pick.scored) {
      const auto p = trainable_parameters(job, job.scoring->search.settings.at(s));
      const auto n = static_cast<double>(p.stage1);
      low = low == 0 ? n : std::min(low, n);
      high = std::max(high, n);
      stage2 = std::max(stage2, static_cast<double>(p.stage2));
    }
  } catch (const InputError& e) {
    std::printf("; the parameter counts are not known (%s)\n", e.what());
    return;
  }
  std::string stage1 = count_text(low), share;
  char percent[64];
  std::snprintf(percent, sizeof percent, "%.3g%%", 100 * low / stage2);
  share = percent;
  if (high > low) {
    stage1 += " to " + count_text(high);
    std::snprintf(percent, sizeof percent, " to %.3g%%", 100 * high / stage2);
    share += percent;
  }
  std::printf(
      "; scoring a setting trains its projector alone (Stage 1: %s parameters), a finetune the projector and "
      "the LLM (Stage 2: %s): %s of a finetune's\n",
      stage1.c_str(), count_text(stage2).c_str(), share.c_str());
}

// Writes <output>/measured.csv (setting, A, C, one column per benchmark) atomically.
void write_measured_csv(const std::string& path, const law::LawTable& table) {
  std::ostringstream out;
  out.precision(17);
  out << "setting,A,C";
  for (const auto& b : table.benchmark_names) out << ',' << b;
  out << '\n';
  for (std::size_t i = 0; i < table.size(); ++i) {
    out << table.settings[i] << ',' << table.alignment[i] << ',' << table.correspondence[i];
    for (const auto& column : table.benchmark_scores) out << ',' << column[i];
    out << '\n';
  }
  store::write_text_atomically(path, out.str());
}

// /validation: the truth from finetuning every setting, and the policy judged on it.
void write_validation(store::H5Location& root, const ScoringPlan& plan, const runtime::JobSpec& job,
                      const TaskRows& rows, const PolicyPick& pick,
                      const std::vector<std::vector<std::size_t>>& rankings) {
  law::LawTable table;
  table.source = job.output + "/measured.csv";
  std::vector<std::size_t> complete;  // settings with every benchmark measured
  for (std::size_t i = 0; i < pick.scored.size(); ++i) {
    const auto s = pick.scored[i];
    bool all = true;
    for (std::size_t b = 0; b < plan.benchmark_names.size(); ++b)
      all = all && std::isfinite(finetuned_value(plan, rows, s, b));
    if (!all) continue;
    complete.push_back(s);
    table.settings.push_back(setting_name(job, s));
    table.alignment.push_back(pick.alignment[i]);
    table.correspondence.push_back(pick.correspondence[i]);
  }
  store::H5Location group = root.create_group("validation");
  group.write("setting", table.settings);
  std::printf("\nvalidation: every setting finetuned (%zu of %zu with every benchmark)\n", complete.size(),
              pick.scored.size());
  std::vector<std::string> judged, best_names;
  std::vector<std::int64_t> hit1, hit3;
  for (std::size_t b = 0; b < plan.benchmark_names.size(); ++b) {
    std::vector<double> y;
    for (const auto s : complete) y.push_back(finetuned_value(plan, rows, s, b));
    if (y.empty()) continue;
    const auto best_at = static_cast<std::size_t>(std::max_element(y.begin(), y.end()) - y.begin());
    const std::size_t best = complete[best_at];
    const auto& ranking = rankings[b];
    const auto position = std::find(ranking.begin(), ranking.end(), best) - ranking.begin();
    judged.push_back(plan.benchmark_names[b]);
    best_names.push_back(setting_name(job, best));
    hit1.push_back(position < 1 ? 1 : 0);
    hit3.push_back(position < static_cast<long>(kShortlist) ? 1 : 0);
    std::printf("  %-12s true best %s (%.2f): the policy ranked it #%ld\n", plan.benchmark_names[b].c_str(),
                setting_name(job, best).c_str(), y[best_at], static_cast<long>(position) + 1);
    if (varies(y)) {
      table.benchmark_names.push_back(plan.benchmark_names[b]);
      table.benchmark_scores.push_back(y);
    } else {
      std::printf("  %-12s every setting scored alike: left out of the Law and the simulation\n",
                  plan.benchmark_names[b].c_str());
    }
  }
  group.write("benchmark", judged);
  group.write("best_setting", best_names);
  group.write("hit_at_1", hit1);
  group.write("hit_at_3", hit3);
  group.set_attribute("budget", static_cast<std::int64_t>(job.scoring->finetune->budget));
  group.set_attribute("random_recall", static_cast<double>(job.scoring->finetune->budget) /
                                           static_cast<double>(std::max<std::size_t>(1, complete.size())));
  if (complete.size() < 2 || table.benchmark_names.empty() || !varies(table.alignment) ||
      !varies(table.correspondence)) {
    std::printf("  too little variation to fit the Law or judge the policy over runs\n");
    return;
  }
  write_measured_csv(table.source, table);
  const law::LawModel model;
  const auto normalised = law::normalise_table(table);
  const auto fits = law::fit_table(normalised, model);
  // As for the policy's fit: with no more settings than coefficients R2 is 1 by construction, and
  // the leave-one-out error (in the benchmark's units) is what says how well the Law holds.
  const bool exact = static_cast<int>(table.size()) <= model.term_count();
  std::vector<double> r2, loo_error;
  std::printf("  the Law fitted on all %zu settings%s:", table.size(),
              exact ? " (no more than its coefficients: R2 is 1 by construction)" : "");
  for (std::size_t b = 0; b < fits.size(); ++b) {
    r2.push_back(fits[b].r2);
    const auto& y = table.benchmark_scores[b];
    const double error =
        mean_abs_difference(law::leave_one_out_predictions(model, normalised.a, normalised.c, y), y);
    loo_error.push_back(error);
    if (exact)
      std::printf(" %s leave-one-out error %.2f;", table.benchmark_names[b].c_str(), error);
    else
      std::printf(" %s R2 %.3f, leave-one-out error %.2f;", table.benchmark_names[b].c_str(), fits[b].r2,
                  error);
  }
  std::printf("\n");
  for (const auto& paper_group : law::paper_group_r2(table.benchmark_names, r2))
    std::printf("  the paper's %s group (%s): mean R2 %.3f%s\n", paper_group.name.c_str(),
                paper_group.members.c_str(), paper_group.mean_r2, exact ? " (1 by construction)" : "");
  std::printf("  measured table: %s\n\n", table.source.c_str());
  group.write("law_benchmark", table.benchmark_names);
  group.write("law_r2", r2);
  group.write("law_loo_mean_abs_error", loo_error);
  law::SimulationSpec spec;
  spec.budgets = law::every_budget(table.size());
  spec.runs = kValidationRuns;
  spec.seed = job.seed;
  const law::PolicySimulation simulation(table, spec);
  const auto result = simulation.summarise(simulation.count_hits());
  store::write_policy_simulation(group, table, result);
  law::print_simulation(table, result);
}

}  // namespace

PolicyPick pick_settings(const ScoringPlan& plan, const runtime::JobSpec& job, const TaskRows& rows,
                         std::size_t round_size) {
  PolicyPick pick;
  for (std::size_t s = 0; s < plan.score_tasks; ++s) {
    const double as = cell(rows, s, kA), cs = cell(rows, s, kC);
    if (!std::isfinite(as) || !std::isfinite(cs)) continue;
    pick.scored.push_back(s);
    pick.alignment.push_back(as);
    pick.correspondence.push_back(cs);
  }
  if (pick.scored.size() < 2)
    throw std::runtime_error("the policy needs the A and C of at least 2 settings; " +
                             std::to_string(pick.scored.size()) + " were scored");
  const auto budget = std::min(job.scoring->finetune->budget, pick.scored.size());
  if (budget < job.scoring->finetune->budget)
    std::fprintf(stderr, "acsweep: only %zu settings scored: the policy finetunes all of them\n",
                 pick.scored.size());
  std::vector<std::size_t> known_positions;  // in pick.scored
  for (std::size_t i = 0; i < pick.scored.size(); ++i)
    if (plan.known.has(pick.scored[i])) {
      known_positions.push_back(i);
      pick.known.push_back(pick.scored[i]);
    }
  pick.budget = std::max(budget, pick.known.size());
  const std::size_t left = budget > pick.known.size() ? budget - pick.known.size() : 0;
  const std::string& sampler_name = job.scoring->finetune->sampler;
  const std::size_t draw =
      sampler_name == "sequential" ? std::min(left, std::max<std::size_t>(round_size, 1)) : left;
  const law::RegionSampler sampler(to_unit(pick.alignment), to_unit(pick.correspondence));
  law::SeededRng rng(law::derive_seed(job.seed, {kPolicyStream}));
  if (sampler_name == "random") {  // uniform, without replacement: the baseline
    std::vector<std::size_t> open;
    for (std::size_t i = 0; i < pick.scored.size(); ++i)
      if (!plan.known.has(pick.scored[i])) open.push_back(i);
    for (std::size_t i = 0; i < draw; ++i) {
      std::swap(open[i], open[i + rng.below(open.size() - i)]);
      pick.sampled.push_back(pick.scored[open[i]]);
    }
  } else {  // region-based; sequential's first round too, as nothing is measured yet
    for (const auto position : sampler.sample(draw, rng, known_positions))
      pick.sampled.push_back(pick.scored[position]);
  }
  const double nan = std::nan("");
  pick.round.assign(pick.sampled.size(), 1);
  pick.chance.assign(pick.sampled.size(), nan);
  pick.gain.assign(pick.sampled.size(), nan);
  pick.predicted.assign(pick.sampled.size(), nan);
  pick.sd.assign(pick.sampled.size(), nan);
  std::fprintf(stderr, "acsweep [coordinator] %s picked %zu of %zu settings",
               sampler_name == "random"       ? "random selection"
               : sampler_name == "sequential" ? "the sequential policy's first round (region-based sampling)"
                                              : "region-based sampling",
               draw, pick.scored.size());
  if (!pick.known.empty())
    std::fprintf(stderr, " (%zu more known: budget %zu)", pick.known.size(), job.scoring->finetune->budget);
  std::fprintf(stderr, ":");
  for (const auto s : pick.sampled) std::fprintf(stderr, " %s;", setting_name(job, s).c_str());
  std::fprintf(stderr, "\n");
  return pick;
}

std::vector<std::size_t> finetune_tasks_for(const ScoringPlan& plan, const runtime::JobSpec& job,
                                            const PolicyPick& pick) {
  return finetune_tasks_of(plan, job.scoring->finetune->validate ? pick.scored : pick.sampled);
}

std::vector<std::size_t> finetune_tasks_of(const ScoringPlan& plan,
                                           const std::vector<std::size_t>& settings) {
  std::vector<std::size_t> tasks;
  for (const auto s : settings)
    if (!plan.known.has(s)) tasks.push_back(plan.finetune_task.at(s));
  return tasks;
}

std::vector<std::size_t> next_round(const ScoringPlan& plan, const runtime::JobSpec& job,
                                    const TaskRows& rows, PolicyPick& pick, std::size_t round_size) {
  const auto finetuned = pick.finetuned();
  if (finetuned.size() >= pick.budget || finetuned.size() >= pick.scored.size()) return {};
  const auto position_of = [&](std::size_t setting) {
    return static_cast<std::size_t>(std::find(pick.scored.begin(), pick.scored.end(), setting) -
                                    pick.scored.begin());
  };
  // The fit learns from the finetunes with every benchmark measured; one that failed is not
  // measured, and not picked again.
  std::vector<std::size_t> measured;
  std::vector<std::vector<double>> values;
  for (const auto s : finetuned) {
    std::vector<double> y;
    for (std::size_t b = 0; b < plan.benchmark_names.size(); ++b)
      y.push_back(finetuned_value(plan, rows, s, b));
    if (!std::all_of(y.begin(), y.end(), [](double v) { return std::isfinite(v); })) continue;
    measured.push_back(position_of(s));
    values.push_back(y);
  }
  Eigen::MatrixXd measured_y(static_cast<Eigen::Index>(measured.size()),
                             static_cast<Eigen::Index>(plan.benchmark_names.size()));
  for (std::size_t j = 0; j < measured.size(); ++j)
    for (std::size_t b = 0; b < plan.benchmark_names.size(); ++b)
      measured_y(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(b)) = values[j][b];
  const auto a_unit = to_unit(pick.alignment), c_unit = to_unit(pick.correspondence);
  const law::RegionSampler region(a_unit, c_unit);
  const law::SequentialSampler sampler(law::design_matrix(law::LawModel{}, a_unit, c_unit), region);
  const auto round = pick.round.empty() ? std::int64_t{1} : pick.round.back() + 1;
  law::SeededRng rng(law::derive_seed(job.seed, {kPolicyStream, static_cast<std::uint64_t>(round)}));
  const std::size_t unmeasured = finetuned.size() - measured.size();  // failed: taken, not measured
  const std::size_t count = std::min(std::max<std::size_t>(round_size, 1), pick.budget - finetuned.size());
  const std::size_t ask = std::min(count + unmeasured, pick.scored.size() - measured.size());
  std::vector<std::size_t> chosen;
  for (const auto& p : sampler.next(measured, measured_y, ask, rng)) {
    const std::size_t setting = pick.scored[p.setting];
    if (chosen.size() == count || std::find(finetuned.begin(), finetuned.end(), setting) != finetuned.end())
      continue;
    chosen.push_back(setting);
    pick.sampled.push_back(setting);
    pick.round.push_back(round);
    pick.chance.push_back(p.chance);
    pick.gain.push_back(p.gain);
    pick.predicted.push_back(p.predicted);
    pick.sd.push_back(p.sd);
    std::fprintf(
        stderr,
        "acsweep [coordinator] sequential policy, round %lld: %s (expected improvement %.3f; best in %.0f%% "
        "of the posterior draws; predicted %.2f, sd %.2f; in units of the measured range)\n",
        static_cast<long long>(round), setting_name(job, setting).c_str(), p.gain, 100 * p.chance,
        p.predicted, p.sd);
  }
  return chosen;
}

std::vector<std::size_t> PolicyPick::finetuned() const {
  std::vector<std::size_t> out = known;
  out.insert(out.end(), sampled.begin(), sampled.end());
  return out;
}

void write_policy(store::H5Location& root, const ScoringPlan& plan, const runtime::JobSpec& job,
                  const TaskRows& rows, const PolicyPick& pick) {
  std::vector<std::string> names;
  for (const auto s : pick.scored) names.push_back(setting_name(job, s));
  const auto a_unit = to_unit(pick.alignment), c_unit = to_unit(pick.correspondence);
  const law::ACPolicy policy(a_unit, c_unit);
  store::H5Location group = root.create_group("policy");
  group.write("setting", names);
  std::vector<std::string> sampled;
  for (const auto s : pick.sampled) sampled.push_back(setting_name(job, s));
  group.write("sampled", sampled);
  group.set_attribute("sampler", job.scoring->finetune->sampler);
  if (!pick.round.empty()) {  // why each was picked: /policy/pick_round, pick_chance, ...
    group.write("pick_round", pick.round);
    group.write("pick_chance", pick.chance);
    group.write("pick_gain", pick.gain);
    group.write("pick_predicted", pick.predicted);
    group.write("pick_sd", pick.sd);
  }
  std::vector<std::string> known;
  for (const auto s : pick.known) known.push_back(setting_name(job, s));
  group.write("known", known);
  const auto finetuned_settings = pick.finetuned();
  group.set_attribute("budget", static_cast<std::int64_t>(finetuned_settings.size()));
  group.set_attribute("model", law::model_name(law::LawModel{}));
  std::printf("\nthe AC policy: %zu of %zu settings finetuned (%zu of them known before)\n",
              finetuned_settings.size(), pick.scored.size(), pick.known.size());
  print_saving(job, pick, finetuned_settings.size());
  std::printf(
      "shortlist per benchmark (extrapolated: predicted outside the measured values; leave-one-out "
      "error: the mean |measured - predicted by the fit without that setting| over the finetuned)\n");
  const law::LawModel model;

  std::vector<std::vector<std::size_t>> rankings;  // per benchmark, settings best first
  for (std::size_t b = 0; b < plan.benchmark_names.size(); ++b) {
    std::vector<std::size_t> finetuned;  // positions in pick.scored
    std::vector<double> measured;
    for (const auto s : finetuned_settings) {
      const double y = finetuned_value(plan, rows, s, b);
      if (!std::isfinite(y)) continue;
      finetuned.push_back(static_cast<std::size_t>(std::find(pick.scored.begin(), pick.scored.end(), s) -
                                                   pick.scored.begin()));
      measured.push_back(y);
    }
    const std::string& benchmark = plan.benchmark_names[b];
    if (finetuned.empty()) {
      std::printf("  %-12s no finetuned setting has a result\n", benchmark.c_str());
      rankings.emplace_back();
      continue;
    }
    const law::MinMax range = law::range_or_unit(measured);
    const law::PolicyRanking ranked = policy.rank(finetuned, to_unit(measured));
    std::vector<double> prediction;
    for (const double u : ranked.score) prediction.push_back(range.lo + u * (range.hi - range.lo));
    std::vector<std::string> order;
    std::vector<std::size_t> settings_order;
    for (const auto position : ranked.ranking) {
      order.push_back(names[position]);
      settings_order.push_back(pick.scored[position]);
    }
    rankings.push_back(settings_order);
    store::H5Location out = group.create_group(benchmark);
    out.write("terms", law::LawModel{}.terms());
    out.write("coefficients", ranked.fit.coefficients);
    out.write("prediction", prediction);
    out.write("ranking", order);
    out.write("measured", measured);
    out.set_attribute("r2", ranked.fit.r2);
    // With no more points than coefficients the fit passes through every one: R2 is 1 by
    // construction. What the fit says about a setting it has not seen is its leave-one-out error.
    const bool exact = static_cast<int>(finetuned.size()) <= model.term_count();
    out.set_attribute("exact_by_construction", static_cast<std::int64_t>(exact));
    double loo_error = std::nan("");
    if (finetuned.size() >= 2) {
      std::vector<double> a, c;
      for (const auto position : finetuned) {
        a.push_back(a_unit[position]);
        c.push_back(c_unit[position]);
      }
      const auto loo = law::leave_one_out_predictions(model, a, c, measured);
      loo_error = mean_abs_difference(loo, measured);
      out.write("loo_prediction", loo);
    }
    out.set_attribute("loo_mean_abs_error", loo_error);
    const auto [lowest, highest] = std::minmax_element(measured.begin(), measured.end());
    std::vector<std::int64_t> extrapolated(prediction.size(), 0);  // per setting, as `prediction`
    for (std::size_t p = 0; p < prediction.size(); ++p)
      extrapolated[p] = std::find(finetuned.begin(), finetuned.end(), p) == finetuned.end() &&
                        (prediction[p] > *highest || prediction[p] < *lowest);
    out.write("extrapolated", extrapolated);
    std::printf("  %-12s", benchmark.c_str());
    for (std::size_t n = 0; n < std::min(kShortlist, order.size()); ++n) {
      const auto position = ranked.ranking[n];
      const bool was_finetuned = std::find(finetuned.begin(), finetuned.end(), position) != finetuned.end();
      std::printf("  %zu. %s (%s %.2f%s)", n + 1, order[n].c_str(), was_finetuned ? "measured" : "predicted",
                  prediction[position], extrapolated[position] ? ", extrapolated" : "");
    }
    std::printf("\n  %-12s  ", "");
    if (exact)
      std::printf("fit on %zu finetuned for %d coefficients: exact by construction (R2 1 says nothing)",
                  finetuned.size(), model.term_count());
    else
      std::printf("R2 %.3f on the %zu finetuned", ranked.fit.r2, finetuned.size());
    if (std::isfinite(loo_error))
      std::printf("; leave-one-out error %.2f\n", loo_error);
    else
      std::printf("; one point: no leave-one-out error\n");
  }
  if (job.scoring->finetune->validate) write_validation(root, plan, job, rows, pick, rankings);
}

}  // namespace acsweep::sweep
