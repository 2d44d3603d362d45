#pragma once
// How a setting's encoders are loaded, from the setting and the job's [search]: the one place the
// scoring tasks, the memory plan and the scheduling costs take them from.
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/runtime/job_file.hpp"

namespace acsweep::sweep {

inline models::EncoderOptions encoder_options(const runtime::SettingSpec& setting,
                                              const runtime::SearchSection& search) {
  models::EncoderOptions options;
  options.layer = search.layer;
  options.resolution = setting.resolution;
  options.pad_to_square = search.pad_to_square;
  options.diffusion_block = search.diffusion_block;
  options.noise_seed = search.noise_seed;
  options.dit_null_class = search.dit_null_class;
  return options;
}

}  // namespace acsweep::sweep
