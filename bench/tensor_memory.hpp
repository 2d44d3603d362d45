#pragma once
// The CPU's "peak allocated", as CUDA's caching allocator reports it on a GPU: the most bytes that
// CPU tensors held at once. The resident set (models::peak_memory_bytes) also counts what the heap
// keeps after a free for the next allocation (models::keep_tensor_memory_for_reuse) and the
// libraries; this counts only what LibTorch asked for, which is what the memory plan estimates.
// install() puts a counting allocator in front of LibTorch's own, before the first tensor.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>

class TensorMemory : public c10::Allocator {
 public:
  static TensorMemory& install() {
    static TensorMemory counting(c10::GetDefaultCPUAllocator());
    c10::SetCPUAllocator(&counting, /*priority=*/1);
    return counting;
  }
  std::int64_t peak() const { return peak_; }
  std::int64_t now() const { return now_; }
  // The peak from here on: what one phase of a step holds at most.
  void reset_peak() { peak_ = now_.load(); }

  c10::DataPtr allocate(size_t n) override {
    auto inner = std::make_unique<c10::DataPtr>(inner_->allocate(n));
    const auto bytes = static_cast<std::int64_t>(n);
    const auto held = now_.fetch_add(bytes) + bytes;
    std::int64_t seen = peak_.load();
    while (held > seen && !peak_.compare_exchange_weak(seen, held)) {
    }
    void* data = inner->get();
    const auto device = inner->device();
    return {data, new Held{std::move(inner), bytes, this}, &release, device};
  }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

 private:
  struct Held {
    std::unique_ptr<c10::DataPtr> inner;
    std::int64_t bytes;
    TensorMemory* owner;
  };
  explicit TensorMemory(c10::Allocator* inner) : inner_(inner) {}
  static void release(void* context) {
    auto* held = static_cast<Held*>(context);
    held->owner->now_ -= held->bytes;
    delete held;
  }

  c10::Allocator* inner_;
  std::atomic<std::int64_t> now_{0}, peak_{0};
};
