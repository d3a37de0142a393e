#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "taskfarm/core/task_range.hpp"
#include "taskfarm/schedule/policy.hpp"

namespace taskfarm::schedule {

/// @brief When a simulated worker asks for more work. `fixed` and `automatic` run the real worker's
/// RequestPacer (schedule/request_pacer.hpp), the object farm/worker.cpp runs.
enum class SimPrefetch {
  none,       ///< only once its queue is empty: every request costs it a full round trip of idling
  fixed,      ///< `prefetch = d`: keeps `prefetch_chunks` chunks requested beyond the one it computes
              ///< (its first request asks for d + 1)
  automatic,  ///< `prefetch = "auto"`: times its first task, then asks when its queued work falls below
              ///< two round trips + 50 us (moving averages of what it measured), for as many chunks as
              ///< cover that horizon (at most 4096)
};

/// @brief A farm to simulate. Times are seconds.
///
/// The model (a discrete-event simulation; nothing runs, nothing is sent):
/// - Ranks 0..P-1. Flat (`groups == 0`): rank 0 is the master, every other rank a worker. Rank 0 also
///   computes when `master_computes` (or P == 1), on a thread of its own: it takes chunks from the
///   dispatcher with no message and no service time, and hands its chunk reports over every 0.2 s
///   and when it finds no chunk (as farm/master.cpp does).
/// - A rank computes task t in cost(t) * speed[rank] seconds, back to back, in pieces: a piece ends
///   at the end of a chunk, at the automatic prefetch's trigger point, or once it has taken 0.25 s.
///   Between pieces a worker looks at the network: a reply that arrived during a piece is seen only
///   then (and its round trip measured then), and its results leave on a message of their own when
///   a second has passed since its last message.
/// - Every message takes `latency` seconds one way. A master is one server: it takes up the messages
///   it receives one at a time, first come first served, decides at once (passes the reports to the
///   policy, asks it for chunks) and is then busy for `service` seconds plus `service_per_chunk` per
///   chunk it hands out; its reply leaves at the end of that time. So a master saturates once
///   requests arrive faster than 1/service. Every decision of rank 0 (chunk sizes, the reply caps,
///   holdings, which queued chunk to ask back) is the farm's own DispatchCore's; a group master's
///   is the farm's GroupPool's.
/// - Rank 0 holds a request that finds nothing until there is work again or every handed-out task is
///   reported (then "no more work"), as the farm does. While it holds one, or its compute thread is
///   idle, it asks the chunks the core picks back from the ranks that hold them queued (a message
///   each way); a worker answers when it next looks at the network, giving the chunk back unless it
///   is the one it computes. A worker holding or awaiting chunks beyond the one it computes looks at
///   the network every 2 ms (`RequestPacer::piece_seconds`); an idle compute thread of rank 0 picks up
///   a given-back chunk a millisecond later.
/// - A request carries the reports of the chunks finished since the worker's last message (as the
///   real worker piggybacks results), and the master passes them to Policy::observe before it
///   decides, so adaptive policies adapt. A worker that is told "no more work" sends a final message
///   (which also costs its master a service). A worker whose queue runs dry sends its results on a
///   message of their own ("never wait holding results", as the real worker does). Not modelled:
///   failures and retries, the 1 MiB piece and 4 MiB send limits on result bytes, and the real
///   worker's idle back-off.
/// - Chunk sizes come from the real DispatchCore and Policy, with workers numbered as the real
///   master numbers them (rank r is worker r, or r - 1 when rank 0 does not compute): for the same
///   order of requests the chunk sequence is the one the real farm hands out.
/// - Two-level scheduling (`groups == G >= 2`), as farm/topology.hpp and farm/group_master.cpp do
///   it (after Eleliemy & Ciorba, "Hierarchical dynamic loop self-scheduling on distributed-memory
///   systems using an MPI+MPI approach", IPDPSW 2019): the ranks form G contiguous groups, group g
///   from rank ceil(g P / G); rank 0 is group 0's master and serves its members directly; the first
///   rank of every other group is a group master, which does not compute. Rank 0's policy is
///   `root_policy` (with the job's min_chunk, no max_chunk) over its compute thread, its direct
///   members and the G - 1 group masters. That policy sizes chunks for whole groups, so (as
///   Master::fill and compute_locally do) a single computing rank taking chunks from rank 0 (its
///   compute thread, a member of group 0) gets at most ceil(R / 2P) tasks a chunk, R the tasks not yet
///   handed out, P the run's computing ranks (when rank 0's policy has fewer workers than the run
///   has computing ranks); group masters are not capped so. A group master asks rank 0 for as many
///   chunks as it has members whenever fewer than 2 * members * (its last sub-chunk's size) tasks are left in its
///   pool, splits each root chunk with `policy` over its members (one dispatcher per root chunk,
///   oldest first), serves one message at a time in `group_service` seconds, holds a member's
///   request while its pool is empty, and caps a reply as rank 0 does, at ceil(R / 2m) of the R tasks
///   in its pool beyond the first chunk (m members). Members send requests to their group master
///   but their results, reports and final message to rank 0, which files their reports under their
///   group master's number. They send results in batches (farm/worker.cpp): with a request only
///   once a second has passed since their last results; otherwise whenever their queue runs dry (they
///   wait), a second after their last message of any kind, and with their final message
///   (the 4 MiB limit is not modelled).
///   With `results_through_group_masters` (not what the farm does; for comparison) members send
///   everything to their group master, which passes their reports to the sub-chunk's policy and
///   forwards results to rank 0 on its own requests or after a second without one; a root chunk is
///   reported to rank 0 once all its tasks are, as one worker m times as fast (compute time and task
///   mean divided by the m members, variance by m^2; overhead: from rank 0's decision to the group
///   master taking the reply up).
///   With `rank0_serves_only_group_masters` (also a what-if) ranks 1..P-1 form the G groups (group g
///   from rank 1 + ceil(g (P - 1) / G)), every group has a group master, and rank 0 serves only them
///   and does not compute: in the farm, rank 0's own group members take chunks of the root policy,
///   which sizes them for whole groups (capped at ceil(R / 2P) for a single rank).
/// - A worker's report gives as overhead the time from its master's decision to the chunk's first
///   task.
/// - Makespan: the time the last task finishes; `finished`: when rank 0 has also taken up its last
///   message (the run's wall time: results still queued at rank 0 are not yet written). Efficiency:
///   sum of costs / (computing ranks * makespan), 1 when both are 0.
struct SimConfig {
  int ranks = 1;                       ///< P, counting rank 0 (and the group masters)
  PolicySpec policy;                   ///< the job's policy (with groups: each group master's)
  std::uint64_t window = 0;  ///< the output's chunk rows, for rank 0's chunk ends (DispatchCore::root_spec)
  PolicySpec root_policy{PolicyKind::fac2};///< with groups: rank 0's policy (default fac2)
  int groups = 0;                      ///< G >= 2: two-level scheduling in G groups; 0 or 1 = flat
  bool results_through_group_masters = false;   ///< with groups: what-if, see above
  bool rank0_serves_only_group_masters = false;  ///< with groups: what-if, see above
  bool master_computes = true;         ///< rank 0 computes too
  double service = 0.0;                ///< seconds the (root) master spends per message
  double service_per_chunk = 0.0;      ///< extra seconds per chunk a master hands out in a reply
  double group_service = -1.0;         ///< seconds a group master spends per message; < 0: `service`
  double latency = 0.0;                ///< one-way message latency
  SimPrefetch prefetch = SimPrefetch::none;
  std::uint32_t prefetch_chunks = 1;   ///< for SimPrefetch::fixed
  std::vector<double> speed;           ///< per rank: seconds per second of cost; empty = all 1
  /// Cores the computing ranks share (0: one each). Processor sharing, as an oversubscribed node
  /// shares its cores: while B ranks compute, each runs at min(1, C / B); a rank waiting for work
  /// takes no share. Pieces in progress are rescheduled whenever B changes.
  double cores = 0.0;
  bool record_chunks = true;           ///< fill SimResult::chunk_rows (off for huge runs)
  /// Called whenever a master passes a report to its policy, with the master's rank and the time
  /// (tracing and tests); may be empty.
  std::function<void(int master_rank, const ChunkReport& report, double time)> on_observe;
};

/// @brief One chunk as a rank computed it (times in seconds since the start).
struct SimChunk {
  TaskIndex begin = 0;
  TaskIndex end = 0;
  int rank = 0;
  double assigned = 0.0;  ///< when its master decided (or a master's compute thread took it)
  double started = 0.0;
  double finished = 0.0;
  bool given_back = false;  ///< handed out, then given back unstarted (never in SimResult::chunk_rows)
};

/// @brief What a simulated run predicts.
struct SimResult {
  double makespan = 0.0;             ///< seconds until the last task finished
  double finished = 0.0;             ///< seconds until rank 0 had also taken up its last message
  double total_cost = 0.0;           ///< sum of the task costs (at speed 1)
  double efficiency = 0.0;           ///< total_cost / (computing_ranks * makespan)
  int computing_ranks = 0;
  int groups = 0;                    ///< groups of the run (0: flat)
  int group_masters = 0;             ///< ranks that only schedule a group
  bool rank0_computes = false;
  std::uint64_t chunks = 0;          ///< chunks the ranks computed
  std::uint64_t root_chunks = 0;     ///< groups only: chunks rank 0 handed to group masters
  std::uint64_t reclaims = 0;        ///< queued chunks rank 0 asked back
  std::uint64_t given_back = 0;      ///< ... and was given (the others had started)
  std::uint64_t master_messages = 0;  ///< messages rank 0 handled
  double master_busy_seconds = 0.0;  ///< rank 0's time spent handling messages
  double master_utilisation = 0.0;   ///< master_busy_seconds / max(makespan, rank 0's last message)
  double group_utilisation_max = 0.0;  ///< groups only: the busiest group master's utilisation
  std::uint64_t group_messages_max = 0;  ///< groups only: messages the busiest group master handled
  std::vector<SimChunk> chunk_rows;  ///< in the order they were handed out (if record_chunks)
};

/// @brief Task cost in seconds at speed 1.
using TaskCost = std::function<double(TaskIndex)>;

/// @brief Simulates tasks 0..n_tasks-1 on the farm `config` describes. O(chunks log P) time, O(P)
/// memory besides the chunk rows; costs are summed per chunk, with no allocation per task.
/// Throws InputError (one line) for an impossible configuration.
SimResult simulate(const SimConfig& config, TaskIndex n_tasks, const TaskCost& cost);

}  // namespace taskfarm::schedule
