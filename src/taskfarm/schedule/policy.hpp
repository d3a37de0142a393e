#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "taskfarm/core/task_range.hpp"

namespace taskfarm::schedule {

/// @brief The chunk-size rules taskfarm implements.
enum class PolicyKind {
  static_block,  ///< one block of ceil(N/P) tasks per worker
  ss,            ///< pure self-scheduling: chunks of 1
  fsc,           ///< fixed-size chunking: chunks of `chunk`
  gss,           ///< guided self-scheduling
  fac2,          ///< factoring, each batch hands out half of what remains
};

/// @brief What a job file says about scheduling.
struct PolicySpec {
  PolicyKind kind = PolicyKind::fac2;
  std::uint64_t chunk = 0;      ///< fixed chunk size (fsc)
  std::uint64_t min_chunk = 1;  ///< lower bound on every chunk (except the last)
  std::uint64_t max_chunk = 0;  ///< upper bound on every chunk; 0 = none
};

/// @brief Parses a policy name; accepts the literature's short names and long aliases.
std::optional<PolicyKind> parse_policy_kind(std::string_view name);
/// @brief Canonical short name, as stored in output files.
std::string_view policy_name(PolicyKind kind);
/// @brief Every accepted name, for error messages.
std::string_view policy_names_help();

/// @brief What a worker reports about a chunk it computed: adaptive policies learn from it.
struct ChunkReport {
  int worker = 0;
  TaskRange range;
  double compute_seconds = 0.0;  ///< wall time spent computing the chunk's tasks
  double task_mean = 0.0;        ///< mean seconds per task in the chunk
  double task_variance = 0.0;    ///< variance of seconds per task in the chunk
};

/// @brief A chunk-size rule. Called by the master only (never concurrently). Workers are numbered
/// 0..P-1 (P = n_workers given to make_policy).
class Policy {
 public:
  virtual ~Policy() = default;
  /// @brief Size of the next chunk for `worker`, given `remaining` unassigned tasks (> 0).
  /// Returns 0 when this worker should get nothing more (e.g. static after its block).
  [[nodiscard]] virtual std::uint64_t next_size(std::uint64_t remaining, int worker) = 0;
  /// @brief Learns from a finished chunk; non-adaptive policies ignore it.
  virtual void observe(const ChunkReport& /*report*/) {}
};

/// @brief Builds the policy for `n_tasks` tasks over `n_workers` computing ranks.
std::unique_ptr<Policy> make_policy(const PolicySpec& spec, std::uint64_t n_tasks, int n_workers);

}  // namespace taskfarm::schedule
