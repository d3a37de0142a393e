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
  fsc,           ///< fixed-size chunking: chunks of `chunk`, or Kruskal & Weiss's optimal size
  mfsc,          ///< modified fsc: one fixed size giving as many chunks as fac2 would
  gss,           ///< guided self-scheduling
  tss,           ///< trapezoid self-scheduling: chunks shrink linearly from `first` to `last`
  fac2,          ///< factoring, each batch hands out half of what remains
  fac,           ///< factoring, each batch's share from the measured spread of task times (at most fac2's)
  wf,            ///< weighted factoring: fac2 batches split by fixed per-worker weights
  awf,           ///< adaptive weighted factoring: weights from measured rates, fixed within a batch
  awf_b,         ///< awf, batch chunk sizes, weights updated at every request
  awf_c,         ///< awf, chunk sizes from the remaining tasks at every request
  awf_d,         ///< awf-b timing chunks including their scheduling overhead
  awf_e,         ///< awf-c timing chunks including their scheduling overhead
  af,            ///< adaptive factoring: chunk from every worker's measured task-time mean and variance
  automatic,     ///< fac2 until measurements say the work or the workers are irregular, then af/awf-c
};

/// @brief What a job file says about scheduling.
struct PolicySpec {
  PolicyKind kind = PolicyKind::fac;
  std::uint64_t chunk = 0;      ///< fixed chunk size (fsc); 0 = derive it from overhead and sigma
  std::uint64_t min_chunk = 1;  ///< lower bound on every chunk (except the last)
  std::uint64_t max_chunk = 0;  ///< upper bound on every chunk; 0 = none
  std::uint64_t first = 0;      ///< tss: first chunk; 0 = ceil(N / 2P)
  std::uint64_t last = 0;       ///< tss: last chunk; 0 = 1
  double overhead_seconds = 0;  ///< fsc: scheduling overhead h per chunk (0 = not given)
  double sigma_seconds = 0;     ///< fsc: standard deviation of one task's time (0 = not given)
  std::vector<double> weights = {};  ///< wf and awf*: relative worker speeds (initial ones for awf*); empty = equal
  /// A chunk of at least 4 x `align` tasks ends on a multiple of `align` (0 = any end). The farm sets
  /// the output's chunk rows: rank 0 gathers results in windows of that many tasks and holds a window
  /// until every task in it is in, so a chunk boundary inside a window kept it for a whole chunk.
  std::uint64_t align = 0;
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
  double compute_seconds = 0.0;   ///< wall time spent computing the chunk's tasks
  double task_mean = 0.0;         ///< mean seconds per task in the chunk
  double task_variance = 0.0;     ///< sample variance of seconds per task in the chunk
  double overhead_seconds = 0.0;  ///< time from the chunk's assignment to the start of its first task
};

/// @brief A chunk-size rule. Called by the master only (never concurrently). Workers are numbered
/// 0..P-1 (P = n_workers given to make_policy); any worker may ask at any time.
class Policy {
 public:
  virtual ~Policy() = default;
  /// @brief Size of the next chunk for `worker`, given `remaining` unassigned tasks (> 0).
  /// Returns 0 when this worker should get nothing more (e.g. static after its block).
  /// The caller clips the size to what remains and to min_chunk/max_chunk.
  [[nodiscard]] virtual std::uint64_t next_size(std::uint64_t remaining, int worker) = 0;
  /// @brief Learns from a finished chunk; non-adaptive policies ignore it.
  virtual void observe(const ChunkReport& /*report*/) {}
};

/// @brief Builds the policy for `n_tasks` tasks over `n_workers` computing ranks.
/// Throws InputError when the spec does not fit the run (e.g. weights for a different number of
/// workers), Error when n_workers < 1.
std::unique_ptr<Policy> make_policy(const PolicySpec& spec, std::uint64_t n_tasks, int n_workers);

/// @brief Checks, before any work starts, that `spec` fits a run on `n_workers` computing ranks;
/// throws InputError with a one-line reason otherwise. make_policy calls it too.
void check_policy_fits(const PolicySpec& spec, int n_workers);

}  // namespace taskfarm::schedule
