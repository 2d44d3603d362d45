#pragma once
// The benchmarks' timing: the best of `repeats` wall-clock runs of `f`, in seconds, after one
// warm-up run (first-touch allocation and lazy initialisation stay out of the figure).
#include <algorithm>
#include <chrono>

template <class F>
double best_seconds(int repeats, F&& f) {
  f();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}
