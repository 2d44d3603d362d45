#include "acsweep/train/sharded_adamw.hpp"

#include <cmath>
#include <stdexcept>

namespace acsweep::train {

ShardLevel shard_level(const std::string& name) {
  if (name == "none") return ShardLevel::none;
  if (name == "optimizer") return ShardLevel::optimizer;
  if (name == "gradients") return ShardLevel::gradients;
  throw std::invalid_argument("'" + name + "' is not a shard level (none, optimizer or gradients)");
}

std::string to_string(ShardLevel level) {
  switch (level) {
    case ShardLevel::none:
      return "none";
    case ShardLevel::optimizer:
      return "optimizer";
    case ShardLevel::gradients:
      return "gradients";
  }
  return "?";
}

namespace {

std::vector<torch::Tensor> tensors_of(const std::vector<std::pair<std::string, torch::Tensor>>& named) {
  std::vector<torch::Tensor> out;
  for (const auto& [name, p] : named) {
    if (p.scalar_type() != torch::kFloat32 || !p.requires_grad())
      throw std::invalid_argument("ShardedAdamW: '" + name + "' is not a trainable float32 parameter");
    out.push_back(p);
  }
  return out;
}

std::vector<ShardBucket> shard_buckets(const std::vector<torch::Tensor>& parameters, int ranks, int rank,
                                       ShardLevel level, std::size_t first_bucket_bytes,
                                       std::size_t bucket_bytes) {
  if (level == ShardLevel::none) throw std::invalid_argument("ShardedAdamW: shard level none shards nothing");
  std::vector<ShardBucket> buckets;
  for (auto& members : gradient_buckets(parameters, first_bucket_bytes, bucket_bytes)) {
    ShardBucket b;
    for (const auto i : members) b.numel += parameters[i].numel();
    b.members = std::move(members);
    b.shard = (b.numel + ranks - 1) / ranks;
    b.begin = std::min(b.numel, rank * b.shard);
    b.end = std::min(b.numel, (rank + 1) * b.shard);
    const auto options = parameters[b.members[0]].options().dtype(torch::kFloat32);
    b.master = torch::zeros({b.shard}, options);
    b.master.mutable_grad() = torch::zeros({b.shard}, options);
    if (level == ShardLevel::optimizer) {
      b.full_gradient = torch::zeros({b.shard * ranks}, options);
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
                           std::size_t bucket_bytes)
    : named_(std::move(named)),
      group_(group),
      rank_(rank),
      level_(level),
      buckets_(
          shard_buckets(tensors_of(named_), group.size(), rank, level, first_bucket_bytes, bucket_bytes)),
      optimizer_(masters_of(buckets_), options) {
  bucket_of_.resize(named_.size());
  for (std::size_t b = 0; b < buckets_.size(); ++b)
    for (const auto i : buckets_[b].members) bucket_of_[i] = b;
  masters_from_parameters();
  zero_grad();
  if (level_ == ShardLevel::gradients)
    hooks_ =
        std::make_unique<GradientHooks>(tensors_of(named_), [this](std::size_t i) { gradient_ready(i); });
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

void ShardedAdamW::parameters_from_masters() {
  torch::NoGradGuard no_grad;
  const int ranks = group_.size();
  for (auto& b : buckets_) {
    // One bucket at a time: the gathered copy is transient.
    auto full = torch::empty({b.shard * ranks}, b.master.options());
    group_.all_gather(b.master, full);
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
  if (level_ == ShardLevel::gradients) {
    for (auto& [name, p] : named_) p.mutable_grad() = torch::Tensor();
    reduced_ = 0;
    waiting_.clear();
    for (const auto& b : buckets_) waiting_.push_back(b.members.size());
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
  if (level_ != ShardLevel::gradients) return;
  // In order, what the backward did not reduce (a parameter without a gradient on this rank).
  while (reduced_ < buckets_.size()) reduce_bucket(reduced_++);
  reduced_ = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b) waiting_[b] = buckets_[b].members.size();
}

void ShardedAdamW::reduce() {
  if (level_ != ShardLevel::optimizer) return;
  std::vector<torch::Tensor> parameters;
  for (const auto& [name, p] : named_) parameters.push_back(p);
  torch::NoGradGuard no_grad;
  for (auto& b : buckets_) {
    check_gradient_views(parameters, b.members, b.full_gradient);
    group_.reduce_scatter(b.full_gradient, b.master.mutable_grad());
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
  if (level_ == ShardLevel::gradients) waiting_.clear();  // until the next zero_grad()
}

}  // namespace acsweep::train
