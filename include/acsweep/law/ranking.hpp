#pragma once
// Ranking settings by score: higher first, ties to the lower setting index. Every ranking in the
// method uses this order (ACPolicy::rank, rank_of, the simulation).
#include <vector>

namespace acsweep::law {

// Setting indices, best first. Linear time (a stable radix sort on the scores' bits), so ranking
// a search space of 10^6 settings stays cheap. Scores must not be NaN.
std::vector<std::size_t> rank_descending(const std::vector<double>& score);

// Position of `setting` in that order, computed without sorting.
std::size_t rank_of(const double* score, std::size_t n, std::size_t setting);

}  // namespace acsweep::law
