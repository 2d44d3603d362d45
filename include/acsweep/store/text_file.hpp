#pragma once
// A small text file (a table, a benchmark's predictions) written atomically: to `path`.tmp, flushed
// and closed, then renamed over `path`. A reader never sees half of it, and a failed write (a full
// disk) leaves the old file, if any, and throws std::runtime_error naming the file.
#include <string>

namespace acsweep::store {

void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace acsweep::store
