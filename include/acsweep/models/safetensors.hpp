#pragma once
// Weights in the safetensors format (the format of Hugging Face model folders): an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape and byte range,
// then the raw bytes. Files are memory-mapped; every header is validated before any byte is
// used (length bounds, JSON, dtype, offsets inside the file, no overlaps, shape consistent with
// the byte count), and every error names the file and the tensor. Pickle checkpoints (.bin,
// .pt, .pth) are refused: loading them can run arbitrary code.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace acsweep::models {

enum class DType { F32, F16, BF16 };
std::string to_string(DType dtype);
std::size_t size_of(DType dtype);

// A tensor inside a mapped file (valid while the file that made it lives).
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  const std::byte* data = nullptr;
  std::size_t bytes = 0;

  std::int64_t numel() const;
  // The values converted to float32 (F16 and BF16 widened exactly).
  std::vector<float> to_float() const;
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
  // Throws InputError naming the file when `name` is not in it.
  const TensorView& tensor(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string path_;
  void* map_ = nullptr;
  std::size_t size_ = 0;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A model folder: model.safetensors, or shards listed in model.safetensors.index.json; for a part of
// a diffusers pipeline (unet/, vae/, transformer/) the same under diffusion_pytorch_model.*.
class SafetensorsFolder {
 public:
  explicit SafetensorsFolder(const std::string& folder);
  const TensorView& tensor(const std::string& name) const;  // InputError naming folder and key
  bool contains(const std::string& name) const { return owner_.count(name) > 0; }
  std::vector<std::string> names() const;
  const std::string& folder() const { return folder_; }

 private:
  std::string folder_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> owner_;
};

// A tensor to write: float32 values, stored as `dtype` (F16 and BF16 rounded to nearest even).
struct TensorData {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
  DType dtype = DType::F32;
};

// Writes a safetensors file atomically (temporary file, then rename), tensors in name order.
void write_safetensors(const std::string& path, const std::map<std::string, TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// A float32 tensor to write from memory that the caller keeps alive during the write.
struct FloatSpan {
  std::string name;
  std::vector<std::int64_t> shape;
  const float* values = nullptr;
};

// Writes float32 tensors straight from memory (no copy of the data is assembled), atomically,
// in the order given; names must be unique. std::runtime_error naming the file when a write fails.
void write_safetensors_f32(const std::string& path, const std::vector<FloatSpan>& tensors,
                           const std::map<std::string, std::string>& metadata = {});

// Refuses pickle checkpoints with a message saying why and how to convert them.
void refuse_pickle_checkpoint(const std::string& path);

// float <-> half / bfloat16 bit patterns (round to nearest even).
std::uint16_t float_to_half(float x);
float half_to_float(std::uint16_t h);
std::uint16_t float_to_bfloat16(float x);
float bfloat16_to_float(std::uint16_t b);

}  // namespace acsweep::models
