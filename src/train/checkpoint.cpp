#include "acsweep/train/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "acsweep/error.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"

namespace acsweep::train {
namespace {
namespace fs = std::filesystem;

std::string name_of(std::int64_t step) { return "checkpoint-" + std::to_string(step); }

models::TensorData data_of(const torch::Tensor& t) {
  const auto cpu = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return {cpu.sizes().vec(), std::vector<float>(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel()),
          models::DType::F32};
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error(path + ": cannot open to fsync");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error(path + ": fsync failed");
}

void write_state(const fs::path& folder, const TrainingCursor& cursor) {
  std::ofstream state(folder / "state.json");
  state << nlohmann::json{{"step", cursor.step}, {"step_loss", cursor.step_loss}}.dump() << "\n";
  if (!state) throw std::runtime_error((folder / "state.json").string() + ": write failed");
}

TrainingCursor read_state(const fs::path& folder) {
  std::ifstream in(folder / "state.json");
  TrainingCursor cursor;
  try {
    const auto doc = nlohmann::json::parse(in);
    cursor.step = doc.at("step").get<std::int64_t>();
    cursor.step_loss = doc.at("step_loss").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError((folder / "state.json").string() + ": " + e.what());
  }
  return cursor;
}

// The checkpoint folder's name, DONE, and the directory entry, made durable.
void publish(const fs::path& dir, const fs::path& temporary, std::int64_t step) {
  const fs::path final_dir = dir / name_of(step);
  fs::remove_all(final_dir);
  fs::rename(temporary, final_dir);
  std::ofstream(final_dir / "DONE") << step << "\n";
  fsync_path((final_dir / "DONE").string());
  fsync_path(dir.string());
}

// True on every rank when `ok` is true on every rank of the group.
bool all_agree(AllReduce& group, const torch::Tensor& like, bool ok) {
  auto failed = torch::full({1}, ok ? 0.0 : 1.0, like.options());
  group.sum(failed);
  return failed.item<double>() == 0.0;
}

// The steps of the complete checkpoints in `dir` (a folder with DONE, not a temporary), ascending.
std::vector<std::int64_t> complete_checkpoints(const std::string& dir) {
  std::vector<std::int64_t> steps;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0 || name.find(".tmp") != std::string::npos) continue;
    if (fs::exists(entry.path() / "DONE")) steps.push_back(std::stoll(name.substr(11)));
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

std::string shard_file(int rank, int ranks) {
  return "shard-" + std::to_string(rank) + "-of-" + std::to_string(ranks) + ".safetensors";
}

// Elements [lo, hi) of a stored tensor, flattened, as float32: only those bytes are read.
torch::Tensor read_range(const models::TensorView& view, std::int64_t lo, std::int64_t hi) {
  return models::mapped_tensor(view)
      .reshape({-1})
      .narrow(0, lo, hi - lo)
      .to(torch::kFloat32, false,
          /*copy=*/true);
}

// A checkpoint as one set of named tensors, whichever way it was written: unsharded (weights and
// moments by parameter name) or sharded at any level and group size (each bucket's elements cut
// into shards; the manifest says which parameter lies where). So a run resumes from a checkpoint
// written at any shard level and group size. InputError naming the file when the checkpoint's
// parameters are not the run's (names and element counts).
class CheckpointReader {
 public:
  enum Part { weights = 0, first_moment = 1, second_moment = 2 };

  CheckpointReader(const fs::path& folder, const std::vector<std::pair<std::string, std::int64_t>>& expected)
      : folder_(folder) {
    const auto manifest_path = folder / "manifest.json";
    if (fs::exists(manifest_path))
      open_sharded(manifest_path);
    else
      open_unsharded();
    std::string mismatch;
    std::map<std::string, std::int64_t> wanted(expected.begin(), expected.end());
    for (const auto& [name, numel] : expected) {
      const auto found = where_.find(name);
      if (found == where_.end())
        mismatch = "no '" + name + "'";
      else if (found->second.numel != numel)
        mismatch = "'" + name + "' holds " + std::to_string(found->second.numel) + " elements, the run's " +
                   std::to_string(numel);
      if (!mismatch.empty()) break;
    }
    for (const auto& [name, place] : where_)
      if (mismatch.empty() && !wanted.count(name)) mismatch = "'" + name + "', which the run does not train";
    if (!mismatch.empty())
      throw InputError(described_ + ": its parameters do not fit the model being trained (" + mismatch + ")");
  }

  std::int64_t adamw_steps() const { return adamw_steps_; }

  // Elements [lo, hi) of the named parameter's part, flattened.
  torch::Tensor read(Part part, const std::string& name, std::int64_t lo, std::int64_t hi) const {
    const auto& at = where_.at(name);
    if (!at.bucket) {
      static const char* const prefixes[] = {"", "m.", "v."};
      const auto& file = part == weights ? *files_[0] : *files_[1];
      const auto& view = file.tensor(prefixes[part] + name);
      if (view.numel() != at.numel)
        throw InputError(file.path() + ": '" + view.name + "' has the wrong size");
      return read_range(view, lo, hi);
    }
    // Old rank q owned [q * shard, (q + 1) * shard) of the bucket.
    static const char* const prefixes[] = {"master.", "m.", "v."};
    const auto key = prefixes[part] + std::to_string(*at.bucket);
    const std::int64_t shard = (at.bucket_numel + ranks_ - 1) / ranks_;
    std::vector<torch::Tensor> pieces;
    for (std::int64_t x = at.offset + lo, end = at.offset + hi; x < end;) {
      const std::int64_t q = x / shard, upto = std::min(end, (q + 1) * shard);
      const auto& file = *files_.at(static_cast<std::size_t>(q));
      const auto& view = file.tensor(key);
      if (view.numel() != std::min((q + 1) * shard, at.bucket_numel) - q * shard)
        throw InputError(file.path() + ": '" + key + "' has the wrong size");
      pieces.push_back(read_range(view, x - q * shard, upto - q * shard));
      x = upto;
    }
    return pieces.size() == 1 ? pieces.front() : torch::cat(pieces);
  }

 private:
  struct Place {
    std::int64_t numel = 0;
    std::optional<std::size_t> bucket;  // sharded: the bucket, its size and the parameter's offset in it
    std::int64_t bucket_numel = 0, offset = 0;
  };

  void open_unsharded() {
    files_.push_back(std::make_unique<models::SafetensorsFile>((folder_ / "weights.safetensors").string()));
    files_.push_back(std::make_unique<models::SafetensorsFile>((folder_ / "optimizer.safetensors").string()));
    described_ = files_[0]->path();
    for (const auto& name : files_[0]->names()) where_[name].numel = files_[0]->tensor(name).numel();
    try {
      adamw_steps_ = std::stoll(files_[1]->metadata().at("adamw_steps"));
    } catch (const std::exception&) {
      throw InputError(files_[1]->path() + ": no adamw_steps in its metadata");
    }
  }

  void open_sharded(const fs::path& manifest_path) {
    described_ = manifest_path.string();
    try {
      std::ifstream in(manifest_path);
      const auto manifest = nlohmann::json::parse(in);
      ranks_ = manifest.at("ranks").get<std::int64_t>();
      if (ranks_ < 1 || ranks_ > (1 << 20)) throw InputError(described_ + ": 'ranks' is not a group size");
      adamw_steps_ = manifest.value("adamw_steps", std::int64_t{0});
      const auto& buckets = manifest.at("buckets");
      for (std::size_t b = 0; b < buckets.size(); ++b) {
        const auto bucket_numel = buckets[b].at("numel").get<std::int64_t>();
        std::int64_t offset = 0;
        for (const auto& member : buckets[b].at("members")) {
          const auto name = member.at(0).get<std::string>();
          const auto numel = member.at(1).get<std::int64_t>();
          if (where_.count(name) || numel < 0) throw InputError(described_ + ": '" + name + "' listed twice");
          where_[name] = Place{numel, b, bucket_numel, offset};
          offset += numel;
        }
        if (offset != bucket_numel)
          throw InputError(described_ + ": bucket " + std::to_string(b) + "'s members do not add up to it");
      }
    } catch (const nlohmann::json::exception& e) {
      throw InputError(described_ + ": " + e.what());
    }
    for (std::int64_t q = 0; q < ranks_; ++q)
      files_.push_back(std::make_unique<models::SafetensorsFile>(
          (folder_ / shard_file(static_cast<int>(q), static_cast<int>(ranks_))).string()));
  }

  fs::path folder_;
  std::string described_;
  std::vector<std::unique_ptr<models::SafetensorsFile>>
      files_;  // unsharded: weights, optimizer; else by rank
  std::map<std::string, Place> where_;
  std::int64_t ranks_ = 1, adamw_steps_ = 0;
};

}  // namespace

void save_checkpoint(const std::string& dir,
                     const std::vector<std::pair<std::string, torch::Tensor>>& trainable, AdamW& optimizer,
                     const TrainingCursor& cursor) {
  const fs::path temporary = fs::path(dir) / (name_of(cursor.step) + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(temporary);
  fs::create_directories(temporary);
  std::map<std::string, models::TensorData> weights, moments;
  for (std::size_t i = 0; i < trainable.size(); ++i) {
    weights[trainable[i].first] = data_of(trainable[i].second);
    moments["m." + trainable[i].first] = data_of(optimizer.first_moments()[i]);
    moments["v." + trainable[i].first] = data_of(optimizer.second_moments()[i]);
  }
  models::write_safetensors((temporary / "weights.safetensors").string(), weights);
  models::write_safetensors((temporary / "optimizer.safetensors").string(), moments,
                            {{"adamw_steps", std::to_string(optimizer.steps())}});
  write_state(temporary, cursor);
  for (const char* file : {"weights.safetensors", "optimizer.safetensors", "state.json"})
    fsync_path((temporary / file).string());
  publish(dir, temporary, cursor.step);
}

std::optional<std::int64_t> latest_checkpoint(const std::string& dir) {
  const auto steps = complete_checkpoints(dir);
  if (steps.empty()) return std::nullopt;
  return steps.back();
}

TrainingCursor load_checkpoint(const std::string& dir, std::int64_t step,
                               const std::vector<std::pair<std::string, torch::Tensor>>& trainable,
                               AdamW& optimizer) {
  const fs::path folder = fs::path(dir) / name_of(step);
  std::vector<std::pair<std::string, std::int64_t>> expected;
  for (const auto& [name, p] : trainable) expected.emplace_back(name, p.numel());
  const CheckpointReader reader(folder, expected);
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < trainable.size(); ++i) {
    const auto& [name, p] = trainable[i];
    const torch::Tensor targets[] = {p, optimizer.first_moments()[i], optimizer.second_moments()[i]};
    for (int k = 0; k < 3; ++k)
      targets[k].copy_(
          reader.read(static_cast<CheckpointReader::Part>(k), name, 0, p.numel()).view(p.sizes()));
  }
  optimizer.set_steps(reader.adamw_steps());
  return read_state(folder);
}

void save_sharded_checkpoint(const std::string& dir, ShardedAdamW& optimizer, const TrainingCursor& cursor) {
  auto& group = optimizer.group();
  const int rank = optimizer.rank(), ranks = optimizer.ranks();
  auto& buckets = optimizer.buckets();
  const auto& like = buckets.front().master;
  const fs::path temporary = fs::path(dir) / (name_of(cursor.step) + ".tmp-sharded");
  std::string error;
  if (rank == 0) {
    try {
      fs::remove_all(temporary);  // a try that died before its DONE
      fs::create_directories(temporary);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (!all_agree(group, like, error.empty()))
    throw std::runtime_error(temporary.string() + ": cannot create the checkpoint folder" +
                             (error.empty() ? "" : ": " + error));
  // This rank's owned elements of each bucket: master weights and both moments, from host memory.
  try {
    std::vector<torch::Tensor> host;
    std::vector<models::FloatSpan> spans;
    for (std::size_t b = 0; b < buckets.size(); ++b) {
      const auto& bucket = buckets[b];
      const std::int64_t n = bucket.end - bucket.begin;
      if (n <= 0) continue;
      const std::pair<const char*, torch::Tensor> parts[] = {
          {"master.", bucket.master},
          {"m.", optimizer.optimizer().first_moments()[b]},
          {"v.", optimizer.optimizer().second_moments()[b]}};
      for (const auto& [prefix, t] : parts) {
        host.push_back(t.detach().narrow(0, 0, n).to(torch::kCPU).contiguous());
        spans.push_back({prefix + std::to_string(b), {n}, host.back().data_ptr<float>()});
      }
    }
    const auto path = (temporary / shard_file(rank, ranks)).string();
    models::write_safetensors_f32(path, spans,
                                  {{"rank", std::to_string(rank)}, {"ranks", std::to_string(ranks)}});
    fsync_path(path);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!all_agree(group, like, error.empty()))
    throw std::runtime_error(error.empty() ? temporary.string() + ": another rank could not write its shard"
                                           : error);
  if (rank == 0) {
    try {
      // The bucket layout: a unit per decoder layer at shard level parameters, else by size.
      nlohmann::json manifest{{"ranks", ranks},
                              {"adamw_steps", optimizer.optimizer().steps()},
                              {"layer_units", optimizer.units() > 0}};
      auto& listed = manifest["buckets"] = nlohmann::json::array();
      for (const auto& bucket : buckets) {
        nlohmann::json members = nlohmann::json::array();
        for (const auto i : bucket.members)
          members.push_back({optimizer.named()[i].first, optimizer.numel(i)});
        listed.push_back({{"numel", bucket.numel}, {"members", members}});
      }
      {
        std::ofstream out(temporary / "manifest.json");
        out << manifest.dump() << "\n";
        if (!out) throw std::runtime_error((temporary / "manifest.json").string() + ": write failed");
      }
      write_state(temporary, cursor);
      for (const char* file : {"manifest.json", "state.json"}) fsync_path((temporary / file).string());
      publish(dir, temporary, cursor.step);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (!all_agree(group, like, error.empty()))
    throw std::runtime_error(error.empty() ? temporary.string() + ": group rank 0 could not complete it"
                                           : error);
}

TrainingCursor load_sharded_checkpoint(const std::string& dir, std::int64_t step, ShardedAdamW& optimizer) {
  const fs::path folder = fs::path(dir) / name_of(step);
  std::vector<std::pair<std::string, std::int64_t>> expected;
  for (std::size_t i = 0; i < optimizer.named().size(); ++i)
    expected.emplace_back(optimizer.named()[i].first, optimizer.numel(i));
  const CheckpointReader reader(folder, expected);
  auto& buckets = optimizer.buckets();
  torch::NoGradGuard no_grad;
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    auto& bucket = buckets[b];
    torch::Tensor targets[] = {bucket.master, optimizer.optimizer().first_moments()[b],
                               optimizer.optimizer().second_moments()[b]};
    for (auto& t : targets) t.zero_();
    // This rank owns [begin, end) of the bucket: of each member, the part that falls there.
    std::int64_t offset = 0;
    for (const auto i : bucket.members) {
      const std::int64_t n = optimizer.numel(i);
      const std::int64_t lo = std::max(bucket.begin, offset), hi = std::min(bucket.end, offset + n);
      for (int k = 0; lo < hi && k < 3; ++k)
        targets[k]
            .narrow(0, lo - bucket.begin, hi - lo)
            .copy_(reader.read(static_cast<CheckpointReader::Part>(k), optimizer.named()[i].first,
                               lo - offset, hi - offset));
      offset += n;
    }
  }
  optimizer.optimizer().set_steps(reader.adamw_steps());
  optimizer.parameters_from_masters();
  return read_state(folder);
}

void prune_checkpoints(const std::string& dir, std::int64_t keep) {
  // What a process killed while writing or pruning left: temporaries (a 7B model's is 81 GB, and
  // an unsharded one is named after the process, so no later write reuses it) and folders without
  // DONE. Nothing else writes here between checkpoints.
  std::vector<fs::path> abandoned;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0) continue;
    if (name.find(".tmp") != std::string::npos || !fs::exists(entry.path() / "DONE"))
      abandoned.push_back(entry.path());
  }
  for (const auto& path : abandoned) fs::remove_all(path);
  if (keep <= 0) return;
  const auto steps = complete_checkpoints(dir);
  for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < steps.size(); ++i) {
    // DONE first: a folder half removed is never taken for complete.
    fs::remove(fs::path(dir) / name_of(steps[i]) / "DONE");
    fs::remove_all(fs::path(dir) / name_of(steps[i]));
  }
}

}  // namespace acsweep::train
