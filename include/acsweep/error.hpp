#pragma once
// Error kinds shared by every module. The command line maps them to exit codes:
// InputError (the user's file, table or option is wrong) exits 2, anything else exits 1.
#include <stdexcept>
#include <string>

namespace acsweep {

// Bad input: the message names the file, key, column, row or setting that is wrong.
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& what) : std::runtime_error(what) {}
};

// A task's failure that another attempt would only repeat (a training that diverged): the
// scheduler records the task as failed at once instead of running it again.
class FinalFailure : public std::runtime_error {
 public:
  explicit FinalFailure(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace acsweep
