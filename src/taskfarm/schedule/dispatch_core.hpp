#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "taskfarm/core/task_range.hpp"
#include "taskfarm/schedule/chunk_dispatcher.hpp"
#include "taskfarm/schedule/policy.hpp"

namespace taskfarm::schedule {

/// @brief Who asks rank 0 for work, numbered as rank 0's policy sees them: its compute thread
/// (when it computes), then every rank that asks it directly, group masters included, in rank order.
struct Requesters {
  int workers = 1;    ///< P of rank 0's policy
  int computing = 1;  ///< ranks (and rank 0's thread) that compute, over the whole run
  /// Per worker: one computing rank (false: a group master, which splits chunks for its members).
  std::vector<bool> single;
  /// Per worker: a rank that queues chunks behind the one it computes and can give an unstarted one
  /// back (false: rank 0's compute thread, which takes one chunk at a time; a group master).
  std::vector<bool> reclaimable;
};

/// @brief A chunk rank 0 asks a worker to give back: handed out, still queued there, not started.
struct Reclaim {
  int worker = 0;
  TaskRange range;
};

/// @brief Every decision rank 0 makes about who computes what, without MPI: the farm's master and
/// the simulator both call it and only move bytes (or simulated messages) around it.
///
/// - Replies: chunks sized by the job's policy (ChunkDispatcher), at most a factoring share
///   ceil(R / 2P) of the R unassigned tasks beyond a reply's first chunk (so a worker that
///   overestimates what it needs cannot hoard the job), and, under two-level scheduling, at most
///   ceil(R / 2P') a chunk for a single rank (P' the computing ranks), since rank 0's policy then
///   sizes chunks for whole groups.
/// - Holdings: which chunks each worker holds and how much of each is reported, so that rank 0 knows
///   when every task is in (retries can appear until then) and what each rank has queued.
/// - Speculation (opt-in, `[schedule] speculate = true`): once nothing is left to hand out, a
///   requester that would idle gets a copy of the unreceived tail of the chunk a rank has held far
///   longer than expected from its measured task rate (a stalled node, a stopped process). Per
///   task the first result wins; the other copy's results are reported as duplicates for the
///   caller to drop. The rank whose chunk a copy finished is named by take_superseded().
/// - Reclaiming (work stealing, by the holder's consent): once nothing is left to hand out and a
///   requester would go idle, the largest chunk another worker holds queued behind the one it
///   computes is asked back; given back, it goes out again first. Holding queued work costs nothing
///   while there is work for everyone and costs a whole chunk's time at the end, which is where the
///   default policy lost its last percent (a rank sat on a prefetched chunk behind a long task while
///   the others ran dry).
class DispatchCore {
 public:
  /// @param spec rank 0's policy (see root_spec); @param pending sorted, disjoint positions to do
  DispatchCore(const PolicySpec& spec, std::vector<TaskRange> pending, Requesters who);

  /// @brief Rank 0's policy: the job's when flat; under groups the root policy, sized for groups,
  /// with the job's min_chunk and no max_chunk.
  /// `window`: the output's chunk rows when positions are task indices, else 0 (PolicySpec::align).
  [[nodiscard]] static PolicySpec root_spec(const PolicySpec& job, const PolicySpec& root, bool flat,
                                            std::uint64_t window = 0);

  /// @brief Appends to `out` the chunks for `worker`, which asks for `want` (>= 1) of them, and
  /// records them as held by it. Empty when there is nothing to hand out now (see finished()).
  void reply(int worker, std::uint32_t want, std::vector<TaskRange>& out, double now = 0.0);
  /// @brief A finished chunk (or part of one): the policy learns from it, the holding shrinks.
  /// Returns true when it was a speculative copy.
  bool report(const ChunkReport& report);
  /// @brief Queues a failed task again, to another worker than `failed_on` when there is one.
  void retry(TaskIndex position, int failed_on) { dispatcher_.retry(position, failed_on); }

  /// @brief The chunk to ask back, if one is worth it: call when a requester would go idle. Nothing
  /// while tasks remain to hand out, while the worker is already being asked, or for static
  /// scheduling (whose workers get nothing more once their block is out).
  [[nodiscard]] std::optional<Reclaim> reclaim();
  /// @brief The worker's answer: `given_back` (it had not started the chunk) or not.
  void reclaimed(int worker, TaskRange range, bool given_back);

  /// @brief Turns speculation on (see the class comment); off by default.
  void enable_speculation() noexcept { speculate_ = true; }
  [[nodiscard]] bool speculating() const noexcept { return speculate_; }
  /// @brief Results of `piece` (positions) arrived from `worker`: a chunk's received prefix grows
  /// (a copy covers only what is not in yet). Speculation only.
  void received(int worker, TaskRange piece);
  /// @brief Appends to `out` the parts of `piece` whose results another copy delivered first (to be
  /// dropped), and claims the tasks it brings a result for: `state[k]` is position piece.begin + k's
  /// outcome, `done` the value of a success. A failure claims nothing (its retry, or the other copy,
  /// may still deliver) but is dropped once a result is in. Speculation only.
  void duplicates(TaskRange piece, std::span<const std::uint8_t> state, std::uint8_t done, std::vector<TaskRange>& out);
  /// @brief A copy for `idle` (which would otherwise wait) of the unreceived tail of the chunk (being
  /// computed or queued) held longest beyond kSpeculateFactor times its expected time (its size
  /// times its holder's measured seconds per task, else everyone's) plus kSpeculateSlack, if any.
  [[nodiscard]] std::optional<TaskRange> speculate(int idle, double now);
  /// @brief Workers whose chunk a copy finished since the last call (they may stop computing it).
  [[nodiscard]] std::vector<int> take_superseded() { return std::exchange(superseded_, {}); }
  [[nodiscard]] std::uint64_t copies() const noexcept { return copies_.size(); }

  static constexpr double kSpeculateFactor = 3.0;  ///< held this many times its expected time...
  static constexpr double kSpeculateSlack = 0.5;   ///< ... plus this many seconds

  /// @brief Nothing to hand out and every handed-out task reported: no retry can appear any more.
  [[nodiscard]] bool finished() const noexcept { return dispatcher_.exhausted() && outstanding_ == 0; }
  /// @brief Tasks not yet handed out (retries and given-back chunks included).
  [[nodiscard]] TaskIndex remaining() const noexcept { return dispatcher_.remaining(); }
  /// @brief Tasks handed to `worker` and not reported yet.
  [[nodiscard]] TaskIndex held(int worker) const;
  [[nodiscard]] int workers() const noexcept { return who_.workers; }
  /// @brief Chunks given back since the start, and their tasks.
  [[nodiscard]] std::uint64_t chunks_given_back() const noexcept { return given_back_; }

 private:
  struct Held {
    TaskRange range;
    TaskIndex left = 0;      // tasks not reported yet
    bool asked = false;      // asked back once (and kept): never again
    double assigned = 0.0;   // when handed out
    TaskIndex received = 0;  // results in as pieces: [range.begin, range.begin + received)
    int twin = -1;           // speculation: the worker holding the other copy of its tail
    bool copy = false;       // speculation: this is the copy
  };
  /// A speculated tail: who computes it twice, and which of its tasks have a result already.
  struct Copy {
    TaskRange tail;
    int holder = 0;  // the worker computing the copy
    std::vector<bool> claimed;
  };
  [[nodiscard]] double seconds_per_task(std::size_t worker) const;
  void drop_twin(int worker, TaskRange range, TaskIndex* outstanding_left);

  PolicySpec spec_;
  Requesters who_;
  ChunkDispatcher dispatcher_;
  std::vector<std::deque<Held>> held_;  // per worker, in the order handed out
  std::vector<bool> asking_;           // per worker: a reclaim awaits its answer
  TaskIndex outstanding_ = 0;
  std::uint64_t given_back_ = 0;
  bool speculate_ = false;
  std::vector<std::pair<double, TaskIndex>> measured_;  // per worker: compute seconds, tasks reported
  std::vector<Copy> copies_;
  std::vector<int> superseded_;
};

/// @brief Factoring's share ceil(R / 2P): the most one reply adds beyond its first chunk, rank 0's
/// cap on a single rank's chunk under groups, and a group master's cap on a member's reply
/// (Hummel, Schonberg & Flynn 1992: each batch hands out half of what remains).
[[nodiscard]] constexpr TaskIndex factoring_share(TaskIndex remaining, TaskIndex workers) noexcept {
  return (remaining + 2 * workers - 1) / (2 * workers);
}

}  // namespace taskfarm::schedule
