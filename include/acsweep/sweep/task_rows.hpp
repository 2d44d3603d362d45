#pragma once
// What a job's tasks returned so far, by task index: a task's values, or nothing where it has not
// run (or failed). The coordinator picks the next phase and writes the summaries from these.
#include <optional>
#include <vector>

namespace acsweep::sweep {

using TaskRows = std::vector<std::optional<std::vector<double>>>;

}  // namespace acsweep::sweep
