#include "acsweep/train/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

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

void copy_into(const torch::Tensor& target, const models::SafetensorsFile& file, const std::string& key) {
  const auto& view = file.tensor(key);
  if (view.shape != target.sizes().vec())
    throw InputError(file.path() + ": '" + key + "' does not fit the model being trained");
  torch::NoGradGuard no_grad;
  target.copy_(models::to_tensor(view));
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
  if (fs::exists(folder / "manifest.json"))
    throw InputError(folder.string() +
                     ": a sharded checkpoint ([stage2] shard = optimizer, gradients or parameters); this run "
                     "is unsharded: set the shard level it was written with, or remove the folder");
  const models::SafetensorsFile weights((folder / "weights.safetensors").string());
  const models::SafetensorsFile moments((folder / "optimizer.safetensors").string());
  for (std::size_t i = 0; i < trainable.size(); ++i) {
    copy_into(trainable[i].second, weights, trainable[i].first);
    copy_into(optimizer.first_moments()[i], moments, "m." + trainable[i].first);
    copy_into(optimizer.second_moments()[i], moments, "v." + trainable[i].first);
  }
  optimizer.set_steps(std::stoll(moments.metadata().at("adamw_steps")));
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
  const auto manifest_path = (folder / "manifest.json").string();
  if (!fs::exists(manifest_path))
    throw InputError(folder.string() +
                     ": an unsharded checkpoint ([stage2] shard = none); this run is sharded: "
                     "set the shard level it was written with, or remove the folder");
  nlohmann::json manifest;
  std::int64_t old_ranks = 0;
  auto& buckets = optimizer.buckets();
  try {
    std::ifstream in(manifest_path);
    manifest = nlohmann::json::parse(in);
    old_ranks = manifest.at("ranks").get<std::int64_t>();
    if (manifest.value("layer_units", false) != (optimizer.units() > 0))
      throw InputError(manifest_path + ": written at shard level " +
                       (optimizer.units() > 0 ? "optimizer or gradients" : "parameters") +
                       "; this run is at " + to_string(optimizer.level()) +
                       ": set [stage2] shard as it was written to resume, or remove the folder");
    const auto& listed = manifest.at("buckets");
    bool fits = old_ranks >= 1 && listed.size() == buckets.size();
    for (std::size_t b = 0; fits && b < buckets.size(); ++b) {
      const auto& members = listed[b].at("members");
      fits = listed[b].at("numel").get<std::int64_t>() == buckets[b].numel &&
             members.size() == buckets[b].members.size();
      for (std::size_t k = 0; fits && k < members.size(); ++k) {
        const auto i = buckets[b].members[k];
        fits = members[k].at(0).get<std::string>() == optimizer.named()[i].first &&
               members[k].at(1).get<std::int64_t>() == optimizer.numel(i);
      }
    }
    if (!fits) throw InputError(manifest_path + ": its parameters do not fit the model being trained");
  } catch (const nlohmann::json::exception& e) {
    throw InputError(manifest_path + ": " + e.what());
  }
  std::vector<std::unique_ptr<models::SafetensorsFile>> shards;
  for (std::int64_t q = 0; q < old_ranks; ++q)
    shards.push_back(std::make_unique<models::SafetensorsFile>(
        (folder / shard_file(static_cast<int>(q), static_cast<int>(old_ranks))).string()));
  torch::NoGradGuard no_grad;
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    auto& bucket = buckets[b];
    const std::int64_t old_shard = (bucket.numel + old_ranks - 1) / old_ranks;
    torch::Tensor targets[] = {bucket.master, optimizer.optimizer().first_moments()[b],
                               optimizer.optimizer().second_moments()[b]};
    for (auto& t : targets) t.zero_();
    // Old rank q owned [q * old_shard, (q + 1) * old_shard) of the bucket; copy what overlaps ours.
    for (std::int64_t q = 0; q < old_ranks; ++q) {
      const std::int64_t lo = std::max(bucket.begin, q * old_shard),
                         hi = std::min({bucket.end, (q + 1) * old_shard, bucket.numel});
      if (lo >= hi) continue;
      const char* prefixes[] = {"master.", "m.", "v."};
      for (int k = 0; k < 3; ++k) {
        const auto key = prefixes[k] + std::to_string(b);
        const auto& view = shards[static_cast<std::size_t>(q)]->tensor(key);
        const std::int64_t owned = std::min((q + 1) * old_shard, bucket.numel) - q * old_shard;
        if (view.shape != std::vector<std::int64_t>{owned})
          throw InputError(shards[static_cast<std::size_t>(q)]->path() + ": '" + key +
                           "' has the wrong size");
        targets[k]
            .narrow(0, lo - bucket.begin, hi - lo)
            .copy_(models::to_tensor(view).narrow(0, lo - q * old_shard, hi - lo));
      }
    }
  }
  optimizer.optimizer().set_steps(manifest.value("adamw_steps", std::int64_t{0}));
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
