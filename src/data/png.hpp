#pragma once
// PNG decoding through stb_image, compiled into acsweep (png.cpp) rather than linked from
// Debian's libstb: there its assertions abort the process on some corrupt files, here each is an
// InputError naming the file, and nothing stb allocated outlives the call.
#include <string>
#include <vector>

#include "acsweep/data/image.hpp"

namespace acsweep::data::detail {

// The 8-bit RGB pixels of a PNG (grey, palette and alpha as Pillow's convert("RGB")
// gives them). The caller has checked the header's pixel count. A corrupt file is an InputError
// naming `path` and what stb reports.
Image decode_png(const std::vector<unsigned char>& bytes, const std::string& path);

}  // namespace acsweep::data::detail
