#pragma once
// What the linked LibTorch offers: the models, training and scoring code run on it.
#include <string>

namespace acsweep::models {

struct TorchRuntime {
  std::string version;
  bool cuda_available = false;
  int cuda_devices = 0;
  int intra_op_threads = 0;
};

TorchRuntime torch_runtime();

}  // namespace acsweep::models
