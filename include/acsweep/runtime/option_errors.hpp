#pragma once
// The text of a Boost.Program_options error, built so that no input can stall it.
//
// Boost (1.74, Debian 12's) fills in an error's message by replacing each placeholder such as
// %value% until none is left. A value that holds its own placeholder ("seed = %value%") is then
// replaced forever and the message grows without bound: a job file or a command line could hang
// acsweep while it reports the mistake (found by fuzzing the job file). option_error_text fills
// the same placeholders in one pass, so the user's text is copied and never read again.
#include <boost/program_options/errors.hpp>
#include <string>

namespace acsweep::runtime {

// Boost's own wording, with every placeholder filled once; use it in place of e.what().
std::string option_error_text(const boost::program_options::error& e);

}  // namespace acsweep::runtime
