#include "acsweep/models/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"
#include "acsweep/path_checks.hpp"

namespace fs = std::filesystem;

namespace acsweep::models {
namespace {

constexpr std::uint64_t kMaxHeader = 100u << 20;  // the reference implementation's bound

std::uint32_t bits_of(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

float float_of(std::uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

DType parse_dtype(const std::string& text, const std::string& where) {
  if (text == "F32") return DType::F32;
  if (text == "F16") return DType::F16;
  if (text == "BF16") return DType::BF16;
  throw InputError(where + ": dtype '" + text + "' is not supported (F32, F16, BF16)");
}

}  // namespace

std::string to_string(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
  }
  return "?";
}

std::size_t size_of(DType dtype) { return dtype == DType::F32 ? 4 : 2; }

std::uint16_t float_to_half(float x) {
  const std::uint32_t f = bits_of(x);
  const std::uint32_t sign = (f >> 16) & 0x8000u;
  const std::uint32_t exponent = (f >> 23) & 0xFFu;
  std::uint32_t mantissa = f & 0x7FFFFFu;
  if (exponent == 0xFF) return static_cast<std::uint16_t>(sign | 0x7C00u | (mantissa ? 0x200u : 0u));
  const int e = static_cast<int>(exponent) - 127 + 15;
  if (e >= 31) return static_cast<std::uint16_t>(sign | 0x7C00u);  // overflow: infinity
  if (e <= 0) {                                                    // subnormal half, or zero
    if (e < -10) return static_cast<std::uint16_t>(sign);
    mantissa |= 0x800000u;
    const int shift = 14 - e;
    std::uint32_t half = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return static_cast<std::uint16_t>(sign | half);
  }
  std::uint32_t half = sign | (static_cast<std::uint32_t>(e) << 10) | (mantissa >> 13);
  const std::uint32_t rest = mantissa & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // a carry rounds up the exponent
  return static_cast<std::uint16_t>(half);
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
  if (exponent == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return float_of(sign | 0x7F800000u | (mantissa << 13));
  return float_of(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

std::uint16_t float_to_bfloat16(float x) {
  std::uint32_t b = bits_of(x);
  if (std::isnan(x)) return static_cast<std::uint16_t>((b >> 16) | 0x40u);
  b += 0x7FFFu + ((b >> 16) & 1u);
  return static_cast<std::uint16_t>(b >> 16);
}

float bfloat16_to_float(std::uint16_t v) { return float_of(static_cast<std::uint32_t>(v) << 16); }

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<float> TensorView::to_float() const {
  const auto n = static_cast<std::size_t>(numel());
  std::vector<float> out(n);
  if (dtype == DType::F32) {
    if (n > 0) std::memcpy(out.data(), data, n * 4);  // an empty tensor has no buffer to copy into
    return out;
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t v;
    std::memcpy(&v, data + 2 * i, 2);
    out[i] = dtype == DType::F16 ? half_to_float(v) : bfloat16_to_float(v);
  }
  return out;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  refuse_pickle_checkpoint(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw InputError(path + ": cannot stat: " + std::strerror(errno));
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    throw InputError(path + ": " + std::to_string(size_) + " bytes: too short for a safetensors header");
  }
  map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw InputError(path + ": mmap failed: " + std::strerror(errno));
  }
  const auto* bytes = static_cast<const std::byte*>(map_);
  std::uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i)
    header_length = (header_length << 8) | std::to_integer<std::uint64_t>(bytes[i]);
  try {
    if (header_length > kMaxHeader || header_length > size_ - 8)
      throw InputError(path + ": header length " + std::to_string(header_length) + " does not fit the " +
                       std::to_string(size_) + "-byte file (truncated or not safetensors)");
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(reinterpret_cast<const char*>(bytes + 8),
                                     reinterpret_cast<const char*>(bytes + 8 + header_length));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(path + ": the header is not JSON: " + e.what());
    }
    if (!header.is_object()) throw InputError(path + ": the header is not a JSON object");
    const std::byte* data = bytes + 8 + header_length;
    const std::size_t data_size = size_ - 8 - header_length;
    std::vector<std::pair<std::size_t, std::string>> ranges;  // begin, name: for the overlap check
    std::map<std::string, std::size_t> end_of;
    for (const auto& [name, entry] : header.items()) {
      const std::string where = path + ": tensor '" + name + "'";
      if (name == "__metadata__") {
        if (!entry.is_object()) throw InputError(path + ": __metadata__ is not an object");
        for (const auto& [key, value] : entry.items())
          if (value.is_string()) metadata_[key] = value.get<std::string>();
        continue;
      }
      if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
          !entry.contains("data_offsets"))
        throw InputError(where + ": needs dtype, shape and data_offsets");
      TensorView view;
      view.name = name;
      if (!entry["dtype"].is_string()) throw InputError(where + ": dtype is not a string");
      view.dtype = parse_dtype(entry["dtype"].get<std::string>(), where);
      if (!entry["shape"].is_array()) throw InputError(where + ": shape is not a list");
      for (const auto& d : entry["shape"]) {
        if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
          throw InputError(where + ": bad shape " + entry["shape"].dump());
        view.shape.push_back(d.get<std::int64_t>());
      }
      const auto& offsets = entry["data_offsets"];
      if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
          !offsets[1].is_number_unsigned())
        throw InputError(where + ": data_offsets must be [begin, end]");
      const auto begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
      if (begin > end || end > data_size)
        throw InputError(where + ": bytes " + std::to_string(begin) + ".." + std::to_string(end) +
                         " lie outside the " + std::to_string(data_size) + " data bytes (truncated file?)");
      const auto expected = static_cast<std::uint64_t>(view.numel()) * size_of(view.dtype);
      if (end - begin != expected)
        throw InputError(where + ": shape " + entry["shape"].dump() + " of " + to_string(view.dtype) +
                         " needs " + std::to_string(expected) + " bytes, the offsets give " +
                         std::to_string(end - begin));
      view.data = data + begin;
      view.bytes = end - begin;
      ranges.emplace_back(begin, name);
      end_of[name] = end;
      tensors_.emplace(name, std::move(view));
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); ++i)
      if (ranges[i].first < end_of[ranges[i - 1].second])
        throw InputError(path + ": tensors '" + ranges[i - 1].second + "' and '" + ranges[i].second +
                         "' overlap in the file");
  } catch (...) {
    ::munmap(map_, size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

const TensorView& SafetensorsFile::tensor(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw InputError(path_ + ": no tensor '" + name + "'");
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, view] : tensors_) out.push_back(name);
  return out;
}

SafetensorsFolder::SafetensorsFolder(const std::string& folder) : folder_(folder) {
  // transformers names its weights model.*, diffusers (each part of a pipeline) diffusion_pytorch_model.*
  std::string base = "model";
  if (!path_exists(fs::path(folder) / "model.safetensors.index.json") &&
      !path_exists(fs::path(folder) / "model.safetensors") &&
      (path_exists(fs::path(folder) / "diffusion_pytorch_model.safetensors.index.json") ||
       path_exists(fs::path(folder) / "diffusion_pytorch_model.safetensors")))
    base = "diffusion_pytorch_model";
  const fs::path index = fs::path(folder) / (base + ".safetensors.index.json");
  if (path_exists(index)) {
    const std::string text = read_bounded(index.string(), kMaxConfigBytes, "a safetensors index");
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      throw InputError(index.string() + ": not JSON: " + e.what());
    }
    if (!doc.contains("weight_map") || !doc["weight_map"].is_object())
      throw InputError(index.string() + ": no weight_map");
    std::map<std::string, const SafetensorsFile*> shards;
    for (const auto& [name, shard] : doc["weight_map"].items()) {
      if (!shard.is_string())
        throw InputError(index.string() + ": weight_map['" + name + "'] is not a file name");
      const std::string file = shard.get<std::string>();
      if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
        throw InputError(index.string() + ": shard '" + file + "' of '" + name +
                         "' is not a file in the folder");
      if (!shards.count(file)) {
        files_.push_back(std::make_unique<SafetensorsFile>((fs::path(folder) / file).string()));
        shards[file] = files_.back().get();
      }
      if (!shards[file]->contains(name))
        throw InputError(index.string() + ": '" + name + "' is listed in " + file + " but is not in it");
      owner_[name] = shards[file];
    }
    return;
  }
  const fs::path single = fs::path(folder) / (base + ".safetensors");
  if (!path_exists(single)) {
    for (const char* pickle :
         {"pytorch_model.bin", "model.bin", "model.pt", "model.pth", "diffusion_pytorch_model.bin"})
      if (path_exists(fs::path(folder) / pickle))
        refuse_pickle_checkpoint((fs::path(folder) / pickle).string());
    throw InputError(folder +
                     ": no model.safetensors or model.safetensors.index.json (nor diffusers' "
                     "diffusion_pytorch_model.safetensors)");
  }
  files_.push_back(std::make_unique<SafetensorsFile>(single.string()));
  for (const auto& name : files_.back()->names()) owner_[name] = files_.back().get();
}

const TensorView& SafetensorsFolder::tensor(const std::string& name) const {
  const auto it = owner_.find(name);
  if (it == owner_.end()) throw InputError(folder_ + ": no weight '" + name + "'");
  return it->second->tensor(name);
}

std::vector<std::string> SafetensorsFolder::names() const {
  std::vector<std::string> out;
  for (const auto& [name, file] : owner_) out.push_back(name);
  return out;
}

namespace {

// The file layout both writers share: the 8-byte header length, the JSON header padded so the data
// starts 8-byte aligned (as the reference writer does), then `body`'s bytes; into a temporary file
// that is renamed once complete.
void write_with_header(const std::string& path, const nlohmann::json& header,
                       const std::function<void(std::ostream&)>& body) {
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    const std::uint64_t length = text.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((length >> (8 * i)) & 0xFF));
    out << text;
    body(out);
    out.flush();
    if (!out) {
      out.close();
      std::error_code ignored;  // the part written is given back to the full disk; nothing reads it
      fs::remove(temporary, ignored);
      throw std::runtime_error(temporary + ": write failed (is the disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) throw std::runtime_error("cannot move " + temporary + " to " + path + ": " + ec.message());
}

}  // namespace

void write_safetensors(const std::string& path, const std::map<std::string, TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string data;
  for (const auto& [name, tensor] : tensors) {
    std::int64_t n = 1;
    for (auto d : tensor.shape) n *= d;
    if (n != static_cast<std::int64_t>(tensor.values.size()))
      throw std::invalid_argument("write_safetensors: tensor '" + name + "' has " +
                                  std::to_string(tensor.values.size()) + " values for its shape");
    const std::size_t begin = data.size();
    for (float v : tensor.values) {
      if (tensor.dtype == DType::F32) {
        data.append(reinterpret_cast<const char*>(&v), 4);
      } else {
        const std::uint16_t h = tensor.dtype == DType::F16 ? float_to_half(v) : float_to_bfloat16(v);
        data.append(reinterpret_cast<const char*>(&h), 2);
      }
    }
    header[name] = {
        {"dtype", to_string(tensor.dtype)}, {"shape", tensor.shape}, {"data_offsets", {begin, data.size()}}};
  }
  write_with_header(path, header, [&](std::ostream& out) { out << data; });
}

void write_safetensors_f32(const std::string& path, const std::vector<FloatSpan>& tensors,
                           const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t offset = 0;
  for (const auto& t : tensors) {
    if (header.contains(t.name)) throw std::invalid_argument("write_safetensors_f32: '" + t.name + "' twice");
    std::size_t n = 1;
    for (auto d : t.shape) n *= static_cast<std::size_t>(d);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + 4 * n}}};
    offset += 4 * n;
  }
  write_with_header(path, header, [&](std::ostream& out) {
    for (const auto& t : tensors) {
      std::size_t n = 1;
      for (auto d : t.shape) n *= static_cast<std::size_t>(d);
      out.write(reinterpret_cast<const char*>(t.values), static_cast<std::streamsize>(4 * n));
    }
  });
}

void refuse_pickle_checkpoint(const std::string& path) {
  const std::string extension = fs::path(path).extension().string();
  if (extension != ".bin" && extension != ".pt" && extension != ".pth" && extension != ".ckpt") return;
  throw InputError(path +
                   ": a pickle checkpoint; acsweep does not load these because unpickling can run "
                   "arbitrary code. Convert it once, where you trust it, to safetensors: "
                   "python3 -c \"import torch; from safetensors.torch import save_file; "
                   "save_file(torch.load('" +
                   path + "', map_location='cpu'), 'model.safetensors')\"");
}

}  // namespace acsweep::models
