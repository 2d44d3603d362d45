#pragma once
// The streams a sweep draws from its job's seed (law::derive_seed(job.seed, {stream, ...})), one
// per purpose, so that adding a draw never shifts another one.
#include <cstdint>

namespace acsweep::sweep {

constexpr std::uint64_t kManifestStream = 0xA5C0'0001;     // the held-out captions that A is measured on
constexpr std::uint64_t kStage1OrderStream = 0xA5C0'0002;  // the order of the Stage-1 captions
constexpr std::uint64_t kStage1InitStream = 0xA5C0'0003;   // a Stage-1 projector's initial weights
constexpr std::uint64_t kStage2OrderStream = 0xA5C0'0004;  // the order of the Stage-2 conversations
constexpr std::uint64_t kPolicyStream = 0xA5C0'0010;  // region-based sampling of the settings to finetune

}  // namespace acsweep::sweep
