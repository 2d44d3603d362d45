// The data loader's engine: items come out in index order whatever the thread count and however
// long each takes to build; a failing item's exception surfaces when that item is taken, never
// earlier or later; stopping early (a task that fails, a stop signal unwinding the stage) joins
// every worker without building the rest.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "acsweep/data/prefetcher.hpp"

namespace acsweep::data {
namespace {

// Item i: a value that depends on i alone, after a pause that varies by item so threads finish
// out of order.
std::vector<int> item(std::size_t i) {
  std::this_thread::sleep_for(std::chrono::microseconds((i * 7919) % 13 * 150));
  std::mt19937 rng(static_cast<unsigned>(i));
  std::vector<int> out(1 + i % 5);
  for (auto& v : out) v = static_cast<int>(rng() % 1000);
  return out;
}

TEST(Prefetcher, SameItemsInIndexOrderWithZeroOneAndManyThreads) {
  std::vector<std::vector<int>> want;
  for (std::size_t i = 0; i < 60; ++i) want.push_back(item(i));
  for (const std::size_t threads : {0u, 1u, 4u}) {
    for (const std::size_t depth : {1u, 3u, 8u}) {
      Prefetcher<std::vector<int>> loader(want.size(), item, threads, depth);
      ASSERT_EQ(loader.size(), want.size());
      for (std::size_t i = 0; i < want.size(); ++i)
        EXPECT_EQ(loader.next(), want[i]) << "item " << i << ", " << threads << " threads, depth " << depth;
      EXPECT_THROW(loader.next(), std::out_of_range);
      if (threads == 0) {
        EXPECT_GT(loader.waited_seconds(), 0.0) << "building the items itself is time the consumer loses";
      }
    }
  }
}

TEST(Prefetcher, NeverBuildsMoreThanItsDepthAhead) {
  std::atomic<std::size_t> built{0};
  Prefetcher<std::size_t> loader(
      100, [&](std::size_t i) { return ++built, i; }, 4, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_LE(built.load(), 3u);  // nothing taken yet: the window holds three
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(loader.next(), i);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_LE(built.load(), 13u);
}

TEST(Prefetcher, AFailingItemThrowsWhenItIsTakenAndTheRestAreNotLost) {
  for (const std::size_t threads : {0u, 1u, 3u}) {
    Prefetcher<int> loader(
        10,
        [](std::size_t i) {
          if (i == 4) throw std::runtime_error("item 4 is bad");
          return static_cast<int>(i) * 10;
        },
        threads, 4);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(loader.next(), i * 10) << threads << " threads";
    try {
      loader.next();
      FAIL() << "item 4's error was lost (" << threads << " threads)";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), "item 4 is bad");
    }
    EXPECT_EQ(loader.next(), 50) << "the items after a failing one still come";
  }
}

TEST(Prefetcher, StoppingEarlyJoinsTheWorkersWithoutBuildingTheRest) {
  std::atomic<std::size_t> built{0};
  const auto start = std::chrono::steady_clock::now();
  {
    Prefetcher<std::size_t> loader(
        100000,
        [&](std::size_t i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          return ++built, i;
        },
        4, 8);
    EXPECT_EQ(loader.next(), 0u);
    EXPECT_EQ(loader.next(), 1u);
    // The consumer fails here (a task's error, or a stop signal unwinding the stage).
  }
  EXPECT_LE(built.load(), 2u + 8u + 4u);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

}  // namespace
}  // namespace acsweep::data
