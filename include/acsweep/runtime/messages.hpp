#pragma once
// What the coordinator and the other ranks say to each other, serialised with
// Boost.Serialization (versioned: a field added later gets a new class version).
#include <boost/serialization/version.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace acsweep::runtime {

// One unit of work: a kind (which function runs it), the setting or shard it is about, the
// content hash that says whether an earlier result still holds, and its inputs.
struct TaskDescriptor {
  std::uint64_t index = 0;  // the task's row in the plan (an id: the scheduler never indexes by it)
  std::string kind;
  std::string name;  // setting or shard, for people
  std::string hash;  // content hash of everything that defines the result
  std::map<std::string, std::string> inputs;
  double cost = 1.0;  // estimated, relative; larger tasks are handed out first
  int attempt = 1;
  bool whole_group = false;  // runs on every rank of one worker group together (finetuning)

  // clang-format off
  template <class Archive>
  void serialize(Archive& ar, unsigned version) {
    ar & index & kind & name & hash & inputs & cost & attempt;
    if (version >= 2) ar & whole_group;
  }
  // clang-format on
};

struct TaskResult {
  std::uint64_t index = 0;
  std::vector<double> values;                             // fixed-width row of scalars
  std::map<std::string, std::vector<double>> per_sample;  // e.g. per-caption log-likelihoods
  double seconds = 0.0;
  int rank = 0;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    // clang-format off
    ar & index & values & per_sample & seconds & rank;
    // clang-format on
  }
};

struct TaskFailure {
  std::uint64_t index = 0;
  std::string name;
  std::string message;
  int rank = 0;
  int attempt = 1;
  bool final = false;  // another attempt would only repeat it (FinalFailure, error.hpp)

  template <class Archive>
  void serialize(Archive& ar, unsigned version) {
    // clang-format off
    ar & index & name & message & rank & attempt;
    if (version >= 2) ar & final;
    // clang-format on
  }
};

// Message tags on the coordinator's communicator.
enum Tag : int { kReady = 1, kTask = 2, kResult = 3, kFailure = 4, kStop = 5 };

}  // namespace acsweep::runtime

BOOST_CLASS_VERSION(acsweep::runtime::TaskDescriptor, 2)
BOOST_CLASS_VERSION(acsweep::runtime::TaskResult, 1)
BOOST_CLASS_VERSION(acsweep::runtime::TaskFailure, 2)
