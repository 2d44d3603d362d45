#pragma once
// The data loader's engine: items 0 .. count-1, each built by make(i) on background threads into
// a bounded window ahead of the consumer, and handed out strictly in index order. make(i) must
// depend on i alone, so 0, 1 and N threads give the same items, bit for bit. With 0 threads each
// item is built by next() itself. An exception thrown by make(i) is rethrown by the next() that
// takes item i, and stopping (the destructor, or a failure in the consumer) leaves no thread
// running: the workers finish the item in hand and exit.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace acsweep::data {

// The loader threads a job's `loader_threads` key asks for: `configured`, or where it is -1 (the
// key left out) the CPUs this process may run on (its affinity mask, as Slurm's --cpus-per-task
// sets it).
std::size_t loader_threads(std::int64_t configured);

template <class T>
class Prefetcher {
 public:
  // `depth`: how many items may be built ahead of the one the consumer takes (at least 1).
  Prefetcher(std::size_t count, std::function<T(std::size_t)> make, std::size_t threads, std::size_t depth)
      : count_(count), make_(std::move(make)), slots_(std::max<std::size_t>(depth, 1)) {
    if (threads == 0) return;
    workers_.reserve(threads);
    for (std::size_t t = 0; t < threads; ++t) workers_.emplace_back([this] { work(); });
  }
  // Two items per thread in flight at most: enough to hide a slow one, and the memory of a few
  // batches of pixels.
  Prefetcher(std::size_t count, std::function<T(std::size_t)> make, std::size_t threads)
      : Prefetcher(count, std::move(make), threads, 2 * std::max<std::size_t>(threads, 1)) {}
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;
  ~Prefetcher() { stop(); }

  std::size_t size() const { return count_; }

  // Item `taken()`, waiting for it where a worker is still building it.
  T next() {
    if (taken_ >= count_) throw std::out_of_range("Prefetcher: every item has been taken");
    const std::size_t i = taken_++;
    if (workers_.empty()) {
      const auto start = std::chrono::steady_clock::now();
      T item = make_(i);
      waited_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return item;
    }
    Slot& slot = slots_[i % slots_.size()];
    std::unique_lock<std::mutex> lock(mutex_);
    const auto start = std::chrono::steady_clock::now();
    ready_.wait(lock, [&] { return slot.index == i && (slot.item || slot.error); });
    waited_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::optional<T> item = std::move(slot.item);
    const std::exception_ptr error = slot.error;
    slot = Slot{};
    consumed_ = i + 1;
    lock.unlock();
    space_.notify_all();
    if (error) std::rethrow_exception(error);
    return std::move(*item);
  }

  std::size_t taken() const { return taken_; }
  // Seconds next() spent waiting for workers, or building items itself with 0 threads: the
  // consumer's time lost to the loader.
  double waited_seconds() const { return waited_; }

  void stop() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    space_.notify_all();
    for (auto& w : workers_)
      if (w.joinable()) w.join();
    workers_.clear();
  }

 private:
  struct Slot {
    std::size_t index = static_cast<std::size_t>(-1);
    std::optional<T> item;
    std::exception_ptr error;
  };

  void work() {
    for (;;) {
      std::size_t i = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        // The next index to build, once its slot's previous item has been taken.
        space_.wait(lock, [&] {
          return stopping_ || next_to_make_ >= count_ || next_to_make_ < consumed_ + slots_.size();
        });
        if (stopping_ || next_to_make_ >= count_) return;
        i = next_to_make_++;
      }
      std::optional<T> item;
      std::exception_ptr error;
      try {
        item.emplace(make_(i));
      } catch (...) {
        error = std::current_exception();
      }
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        Slot& slot = slots_[i % slots_.size()];
        slot.index = i;
        slot.item = std::move(item);
        slot.error = std::move(error);  // the worker keeps no reference to the exception
      }
      ready_.notify_all();
    }
  }

  const std::size_t count_;
  const std::function<T(std::size_t)> make_;
  std::vector<Slot> slots_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::size_t next_to_make_ = 0;  // under mutex_
  std::size_t consumed_ = 0;      // under mutex_: items handed out
  bool stopping_ = false;         // under mutex_
  std::size_t taken_ = 0;         // the consumer's own
  double waited_ = 0;             // the consumer's own
};

}  // namespace acsweep::data
