#include "acsweep/train/sharded_adamw.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace acsweep::train {

ShardLevel shard_level(const std::string& name) {
  if (name == "none") return ShardLevel::none;
  if (name == "optimizer") return ShardLevel::optimizer;
  if (name == "gradients") return ShardLevel::gradients;
  if (name == "parameters") return ShardLevel::parameters;
  throw std::invalid_argument("'" + name +
                              "' is not a shard level (none, optimizer, gradients or parameters)");
}

std::string to_string(ShardLevel level) {
  switch (level) {
    case ShardLevel::none:
      return "none";
    case ShardLevel::optimizer:
      return "optimizer";
    case ShardLevel::gradients:
      return "gradients";
    case ShardLevel::parameters:
      return "parameters";
  }
  return "?";
}

namespace {

std::vector<torch::Tensor> tensors_of(const std::vector<std::pair<std::string, torch::Tensor>>& named) {
  std::vector<torch::Tensor> out;
  const auto dtype = named.empty() ? torch::kFloat32 : named.front().second.scalar_type();
  for (const auto& [name, p] : named) {
    if ((dtype != torch::kFloat32 && dtype != torch::kBFloat16) || p.scalar_type() != dtype ||
        !p.requires_grad())
      throw std::invalid_argument(
          "ShardedAdamW: '" + name +
          "' is not a trainable parameter of the others' dtype (float32 or bfloat16)");
    out.push_back(p);
  }
  return out;
}

// The buckets' members: the gradient buckets of every parameter outside the units, then each unit.
std::vector<std::pair<std::vector<std::size_t>, bool>> bucket_members(
    const std::vector<torch::Tensor>& parameters, ShardLevel level,
    const std::vector<std::vector<std::size_t>>& units, std::size_t first_bucket_bytes,
    std::size_t bucket_bytes) {
  if (level == ShardLevel::none) throw std::invalid_argument("ShardedAdamW: shard level none shards nothing");
  if ((level == ShardLevel::parameters) != !units.empty())
    throw std::invalid_argument("ShardedAdamW: units are what shard level parameters gathers, and only it");
  std::vector<int> in_unit(parameters.size(), 0);
  for (const auto& unit : units) {
    if (unit.empty()) throw std::invalid_argument("ShardedAdamW: an empty unit");
    for (const auto i : unit) {
      if (i >= parameters.size() || in_unit[i]++)
        throw std::invalid_argument("ShardedAdamW: a unit member that is not a parameter, or in two units");
    }
  }
  std::vector<torch::Tensor> rest;
  std::vector<std::size_t> rest_index;
  for (std::size_t i = 0; i < parameters.size(); ++i)
    if (!in_unit[i]) {
      rest.push_back(parameters[i]);
      rest_index.push_back(i);
    }
  std::vector<std::pair<std::vector<std::size_t>, bool>> out;
  if (!rest.empty())
    for (auto& members : gradient_buckets(rest, first_bucket_bytes, bucket_bytes)) {
      for (auto& i : members) i = rest_index[i];
      out.emplace_back(std::move(members), false);
    }
  for (const auto& unit : units) out.emplace_back(unit, true);
  return out;
}

std::vector<ShardBucket> shard_buckets(const std::vector<torch::Tensor>& parameters, int ranks, int rank,
                                       ShardLevel level, const std::vector<std::vector<std::size_t>>& units,
                                       std::size_t first_bucket_bytes, std::size_t bucket_bytes) {
  std::vector<ShardBucket> buckets;
  for (auto& [members, unit] : bucket_members(parameters, level, units, first_bucket_bytes, bucket_bytes)) {
    ShardBucket b;
    b.unit = unit;
    for (const auto i : members) b.numel += parameters[i].numel();
    b.members = std::move(members);
    b.shard = (b.numel + ranks - 1) / ranks;
    b.begin = std::min(b.numel, rank * b.shard);
    b.end = std::min(b.numel, (rank + 1) * b.shard);
    const auto options = parameters[b.members[0]].options().dtype(torch::kFloat32);
    b.master = torch::zeros({b.shard}, options);
    // A unit's master is the autograd input its layer's gradient reaches (models/recompute.hpp).
    if (b.unit) b.master.requires_grad_(true);
    b.master.mutable_grad() = torch::zeros({b.shard}, options);
    if (level == ShardLevel::optimizer) {
      // In the parameters' dtype: autograd accumulates each gradient in its parameter's.
      b.full_gradient = torch::zeros({b.shard * ranks}, parameters[b.members[0]].options());
      std::int64_t offset = 0;
      for (const auto i : b.members) {
        auto& p = parameters[i];
        p.mutable_grad() = b.full_gradient.narrow(0, offset, p.numel()).view(p.sizes());
        offset += p.numel();
      }
    }
    buckets.push_back(std::move(b));
  }
  return buckets;
}

std::vector<torch::Tensor> masters_of(const std::vector<ShardBucket>& buckets) {
  std::vector<torch::Tensor> out;
  for (const auto& b : buckets) out.push_back(b.master);
  return out;
}

}  // namespace

ShardedAdamW::ShardedAdamW(std::vector<std::pair<std::string, torch::Tensor>> named, AllReduce& group,
                           int rank, ShardLevel level, AdamWOptions options, std::size_t first_bucket_bytes,
                           std::size_t bucket_bytes, const std::vector<std::vector<std::size_t>>& units)
    : named_(std::move(named)),
      group_(group),
      rank_(rank),
      level_(level),
      buckets_(shard_buckets(tensors_of(named_), group.size(), rank, level, units, first_bucket_bytes,
                             bucket_bytes)),
      optimizer_(masters_of(buckets_), options) {
  bucket_of_.resize(named_.size());
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    for (const auto i : buckets_[b].members) bucket_of_[i] = b;
    if (buckets_[b].unit) unit_buckets_.push_back(b);
  }
  for (const auto& [name, p] : named_) {
    shapes_.push_back(p.sizes().vec());
    numels_.push_back(p.numel());
  }
  masters_from_parameters();
  for (std::size_t u = 0; u < unit_buckets_.size(); ++u) release_unit(u);  // from now on, whole only in use
  zero_grad();
  if (level_ == ShardLevel::gradients || level_ == ShardLevel::parameters) {
    // Hooks on the parameters outside the units: a unit's gradient is reduced by its layer's backward.
    std::vector<torch::Tensor> hooked;
    for (std::size_t i = 0; i < named_.size(); ++i)
      if (!buckets_[bucket_of_[i]].unit) {
        hooked.push_back(named_[i].second);
        hooked_.push_back(i);
      }
    hooks_ = std::make_unique<GradientHooks>(hooked, [this](std::size_t k) { gradient_ready(hooked_[k]); });
  }
}

void ShardedAdamW::masters_from_parameters() {
  torch::NoGradGuard no_grad;
  for (auto& b : buckets_) {
    b.master.zero_();  // the padding stays zero: its gradient is zero, so AdamW leaves it there
    std::int64_t offset = 0;
    for (const auto i : b.members) {
      const auto& p = named_[i].second;
      const std::int64_t lo = std::max(offset, b.begin), hi = std::min(offset + p.numel(), b.end);
      if (lo < hi)
        b.master.narrow(0, lo - b.begin, hi - lo)
            .copy_(p.detach().reshape({-1}).narrow(0, lo - offset, hi - lo));
      offset += p.numel();
    }
  }
}

ShardedAdamW::~ShardedAdamW() {
  try {
    forget_gathered();  // every rank started the prefetch, so every rank's wait ends
  } catch (...) {
  }
}

void ShardedAdamW::parameters_from_masters() {
  torch::NoGradGuard no_grad;
  forget_gathered();  // the masters may have changed (a step, a checkpoint)
  const int ranks = group_.size();
  for (auto& b : buckets_) {
    if (b.unit) continue;  // gathered when its layer runs
    // One bucket at a time: the gathered copy is transient.
    auto full = torch::empty({b.shard * ranks}, named_[b.members[0]].second.options());
    gather_masters(b, full);
    std::int64_t offset = 0;
    for (const auto i : b.members) {
      auto& p = named_[i].second;
      p.detach().copy_(full.narrow(0, offset, p.numel()).view(p.sizes()));
      offset += p.numel();
    }
  }
}

void ShardedAdamW::zero_grad() {
  for (auto& b : buckets_) {
    b.master.mutable_grad().zero_();
    if (b.full_gradient.defined()) b.full_gradient.zero_();
  }
  if (level_ == ShardLevel::gradients || level_ == ShardLevel::parameters) {
    for (auto& [name, p] : named_) p.mutable_grad() = torch::Tensor();
    reduced_ = 0;
    waiting_.clear();
    for (const auto& b : buckets_) waiting_.push_back(b.unit ? 0 : b.members.size());
  }
}

void ShardedAdamW::gradient_ready(std::size_t parameter) {
  if (waiting_.empty()) return;  // not between zero_grad() and step()
  --waiting_[bucket_of_[parameter]];
  while (reduced_ < buckets_.size() && waiting_[reduced_] == 0) reduce_bucket(reduced_++);
}

void ShardedAdamW::reduce_bucket(std::size_t bucket) {
  torch::NoGradGuard no_grad;
  auto& b = buckets_[bucket];
  if (b.unit) return;  // reduced by its layer's backward (reduce_unit)
  auto full = torch::zeros({b.shard * group_.size()}, b.master.options());
  std::int64_t offset = 0;
  for (const auto i : b.members) {
    auto& p = named_[i].second;
    auto& g = p.mutable_grad();
    if (g.defined()) full.narrow(0, offset, p.numel()).copy_(g.reshape({-1}));
    g = torch::Tensor();  // freed: only the shard's sum outlives the bucket
    offset += p.numel();
  }
  auto part = torch::empty({b.shard}, b.master.options());
  group_.reduce_scatter(full, part);
  b.master.mutable_grad().add_(part);
}

void ShardedAdamW::after_backward() {
  if (level_ != ShardLevel::gradients && level_ != ShardLevel::parameters) return;
  // In order, what the backward did not reduce (a parameter without a gradient on this rank).
  while (reduced_ < buckets_.size()) reduce_bucket(reduced_++);
  reduced_ = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b)
    waiting_[b] = buckets_[b].unit ? 0 : buckets_[b].members.size();
}

void ShardedAdamW::reduce() {
  if (level_ != ShardLevel::optimizer) return;
  std::vector<torch::Tensor> parameters;
  for (const auto& [name, p] : named_) parameters.push_back(p);
  torch::NoGradGuard no_grad;
  for (auto& b : buckets_) {
    check_gradient_views(parameters, b.members, b.full_gradient);
    // The sum in float32 (bf16 gradients widened one bucket at a time).
    group_.reduce_scatter(b.full_gradient.to(torch::kFloat32), b.master.mutable_grad());
  }
}

double ShardedAdamW::clip_grad_norm(double max_norm) {
  torch::NoGradGuard no_grad;
  auto squares = torch::zeros({1}, buckets_.front().master.options());
  for (const auto& b : buckets_) squares += b.master.grad().pow(2).sum();
  group_.sum(squares);
  const double norm = std::sqrt(squares.item<double>());
  const double scale = max_norm / (norm + 1e-6);
  if (scale < 1.0)
    for (auto& b : buckets_) b.master.mutable_grad().mul_(scale);
  return norm;
}

void ShardedAdamW::step(double learning_rate) {
  optimizer_.step(learning_rate);
  parameters_from_masters();
  waiting_.clear();  // until the next zero_grad()
}

namespace {

// `buffer`'s first n elements, the buffer grown to `capacity` elements first where it is smaller.
torch::Tensor first_of(torch::Tensor& buffer, std::int64_t n, std::int64_t capacity,
                       const torch::TensorOptions& options) {
  if (!buffer.defined() || buffer.numel() < n) buffer = torch::empty({std::max(n, capacity)}, options);
  return buffer.narrow(0, 0, n);
}

}  // namespace

std::int64_t ShardedAdamW::largest_unit() const {
  std::int64_t largest = 0;
  for (const auto b : unit_buckets_) largest = std::max(largest, buckets_[b].shard * group_.size());
  return largest;
}

torch::Tensor ShardedAdamW::sent_master(const ShardBucket& b, const torch::Tensor& full) const {
  // In the parameters' dtype: bf16 weights travel as bf16, each rounded from its float32 master once.
  const auto dtype = full.scalar_type();
  return dtype == torch::kFloat32 ? b.master.detach() : b.master.detach().to(dtype);
}

void ShardedAdamW::gather_masters(const ShardBucket& b, torch::Tensor& full) {
  group_.all_gather(sent_master(b, full), full);
}

void ShardedAdamW::point_into(std::size_t unit, const torch::Tensor& full) {
  torch::NoGradGuard no_grad;
  const auto& b = buckets_.at(unit_buckets_.at(unit));
  std::int64_t offset = 0;
  for (const auto i : b.members) {
    named_[i].second.set_data(full.narrow(0, offset, numels_[i]).view(shapes_[i]));
    offset += numels_[i];
  }
}

void ShardedAdamW::wait_for(GatherSlot& slot) {
  if (!slot.under_way) return;
  group_.wait_all_gather();
  slot.under_way = false;
  slot.sent = torch::Tensor();
}

ShardedAdamW::GatherSlot& ShardedAdamW::slot_for(std::size_t unit) {
  for (auto& slot : slots_)
    if (slot.unit == unit) return slot;
  // Else the buffer used longer ago: never the one the unit in use points into.
  auto& slot = slots_[0].used <= slots_[1].used ? slots_[0] : slots_[1];
  wait_for(slot);
  slot.unit.reset();
  if (!slot.buffer.defined())
    slot.buffer = torch::empty({largest_unit()},
                               named_[buckets_.at(unit_buckets_.at(unit)).members[0]].second.options());
  return slot;
}

void ShardedAdamW::forget_gathered() {
  for (auto& slot : slots_) {
    wait_for(slot);
    slot.unit.reset();
  }
  last_gathered_.reset();
}

void ShardedAdamW::gather_unit(std::size_t unit) {
  if (whole_ && *whole_ != unit)
    throw std::logic_error("ShardedAdamW: unit " + std::to_string(unit) + " gathered while unit " +
                           std::to_string(*whole_) + " is whole");
  if (all_whole_) throw std::logic_error("ShardedAdamW: a unit gathered after gather_all()");
  if (unit >= units()) throw std::out_of_range("ShardedAdamW: no unit " + std::to_string(unit));
  const auto elements = [this](std::size_t u) { return buckets_[unit_buckets_[u]].shard * group_.size(); };
  auto& slot = slot_for(unit);
  if (slot.unit == unit) {
    if (slot.under_way) {
      wait_for(slot);
      ++counts_.prefetched;
    } else {
      ++counts_.kept;
    }
  } else {
    auto full = slot.buffer.narrow(0, 0, elements(unit));
    gather_masters(buckets_[unit_buckets_[unit]], full);
    slot.unit = unit;
    ++counts_.waited;
  }
  slot.used = ++uses_;
  point_into(unit, slot.buffer.narrow(0, 0, elements(unit)));
  whole_ = unit;
  // Which way the passes go: up from the first layer in the forward (also from a backward that
  // ended there into the next micro-step's forward), down in the backward (its first recompute is
  // the layer the forward ended with).
  const bool up = !last_gathered_ || unit > *last_gathered_ || (unit == *last_gathered_ && unit == 0);
  last_gathered_ = unit;
  if (!prefetch_) return;
  std::optional<std::size_t> next;
  if (up)
    next = unit + 1 < units() ? unit + 1 : unit;
  else if (unit > 0)
    next = unit - 1;
  if (!next || slots_[0].unit == next || slots_[1].unit == next) return;
  auto& other = slot_for(*next);
  auto full = other.buffer.narrow(0, 0, elements(*next));
  other.sent = sent_master(buckets_[unit_buckets_[*next]], full);
  other.unit = next;
  group_.start_all_gather(other.sent, full);
  other.under_way = true;
}

void ShardedAdamW::release_unit(std::size_t unit) {
  const auto& b = buckets_.at(unit_buckets_.at(unit));
  for (const auto i : b.members) {
    auto& p = named_[i].second;
    p.set_data(torch::empty({0}, p.options()));
  }
  if (whole_ == unit) whole_.reset();
}

torch::Tensor ShardedAdamW::reduce_unit(std::size_t unit, const std::vector<torch::Tensor>& gradients) {
  torch::NoGradGuard no_grad;
  const auto& b = buckets_.at(unit_buckets_.at(unit));
  if (gradients.size() != b.members.size())
    throw std::invalid_argument("ShardedAdamW: " + std::to_string(gradients.size()) +
                                " gradients for a unit of " + std::to_string(b.members.size()) +
                                " parameters");
  auto full = first_of(reduce_buffer_, b.shard * group_.size(), largest_unit(),
                       b.master.options().requires_grad(false))
                  .zero_();
  std::int64_t offset = 0;
  for (std::size_t k = 0; k < gradients.size(); ++k) {
    const auto i = b.members[k];
    if (gradients[k].defined()) full.narrow(0, offset, numels_[i]).copy_(gradients[k].reshape({-1}));
    offset += numels_[i];
  }
  auto part = torch::empty({b.shard}, full.options());
  group_.reduce_scatter(full, part);
  return part;
}

torch::Tensor ShardedAdamW::unit_master(std::size_t unit) const {
  return buckets_.at(unit_buckets_.at(unit)).master;
}

void ShardedAdamW::gather_all() {
  // Each unit into a buffer of its own: from now on they are all whole.
  forget_gathered();
  whole_.reset();
  for (auto& slot : slots_) slot = GatherSlot();
  reduce_buffer_ = torch::Tensor();
  for (std::size_t u = 0; u < unit_buckets_.size(); ++u) {
    const auto& b = buckets_[unit_buckets_[u]];
    auto full = torch::empty({b.shard * group_.size()}, named_[b.members[0]].second.options());
    gather_masters(b, full);
    point_into(u, full);
  }
  all_whole_ = true;
}

}  // namespace acsweep::train
