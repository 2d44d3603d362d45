#include "acsweep/train/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
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

}  // namespace

void save_checkpoint(const std::string& dir,
                     const std::vector<std::pair<std::string, torch::Tensor>>& trainable, AdamW& optimizer,
                     const TrainingCursor& cursor) {
  const fs::path final_dir = fs::path(dir) / name_of(cursor.step);
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
  {
    std::ofstream state(temporary / "state.json");
    state << nlohmann::json{{"step", cursor.step}, {"step_loss", cursor.step_loss}}.dump() << "\n";
    if (!state) throw std::runtime_error((temporary / "state.json").string() + ": write failed");
  }
  for (const char* file : {"weights.safetensors", "optimizer.safetensors", "state.json"})
    fsync_path((temporary / file).string());
  fs::remove_all(final_dir);
  fs::rename(temporary, final_dir);
  std::ofstream(final_dir / "DONE") << cursor.step << "\n";
  fsync_path((final_dir / "DONE").string());
  fsync_path(dir);
}

std::optional<std::int64_t> latest_checkpoint(const std::string& dir) {
  std::optional<std::int64_t> newest;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0 || name.find(".tmp") != std::string::npos) continue;
    if (!fs::exists(entry.path() / "DONE")) continue;
    const std::int64_t step = std::stoll(name.substr(11));
    if (!newest || step > *newest) newest = step;
  }
  return newest;
}

TrainingCursor load_checkpoint(const std::string& dir, std::int64_t step,
                               const std::vector<std::pair<std::string, torch::Tensor>>& trainable,
                               AdamW& optimizer) {
  const fs::path folder = fs::path(dir) / name_of(step);
  const models::SafetensorsFile weights((folder / "weights.safetensors").string());
  const models::SafetensorsFile moments((folder / "optimizer.safetensors").string());
  for (std::size_t i = 0; i < trainable.size(); ++i) {
    copy_into(trainable[i].second, weights, trainable[i].first);
    copy_into(optimizer.first_moments()[i], moments, "m." + trainable[i].first);
    copy_into(optimizer.second_moments()[i], moments, "v." + trainable[i].first);
  }
  optimizer.set_steps(std::stoll(moments.metadata().at("adamw_steps")));
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

}  // namespace acsweep::train
