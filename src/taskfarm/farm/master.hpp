#pragma once

#include <deque>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <boost/mpi/communicator.hpp>

#include "taskfarm/app/kernel.hpp"
#include "taskfarm/farm/chunk_runner.hpp"
#include "taskfarm/farm/farm.hpp"
#include "taskfarm/farm/protocol.hpp"
#include "taskfarm/farm/result_writer.hpp"
#include "taskfarm/farm/topology.hpp"
#include "taskfarm/schedule/dispatch_core.hpp"

namespace taskfarm::farm {

/// @brief Rank 0. Its main thread answers workers' requests (the only thread that calls MPI); a
/// writer thread puts results on disk; and, unless the job says otherwise, a compute thread runs
/// tasks too, taking chunks from the same dispatcher without any messaging.
///
/// Failed tasks are queued again (up to the job's `retries`, on another worker when there is one).
/// Because a retry can appear until the last chunk is back, a request that finds nothing to hand
/// out waits unanswered until either a retry appears or all work is in; only then do workers hear
/// "no more work". On a stop (signal, or fail_fast) workers are told to stop after their current
/// task; what they computed is written and the rest stays pending for `taskfarm resume`.
class Master {
 public:
  Master(const boost::mpi::communicator& world, const job::JobSpec& spec, std::vector<app::Kernel*> kernels,
         io::ResultsFile& file, const FarmOptions& options, const FarmPlan& plan, double t0,
         std::vector<std::string> hosts, const job::TaskOrder& order, const StartLimit* limit = nullptr);
  /// @brief Runs until every task is done (or the job was stopped) and every worker has left.
  FarmResult run(RankStats& local_stats);

 private:
  void take_up(const boost::mpi::status& status);  // receives a report and serves it, with what follows
  void serve(int source, std::vector<std::byte> bytes);
  WriterItem account(int rank, std::vector<std::byte> bytes);  // dispatch_mutex_ held
  void queue_for_writer(WriterItem item, bool wake);               // dispatch_mutex_ held; wake: see ResultWriter::push
  bool fill(int source, std::uint32_t want, AssignMessage& reply);  // dispatch_mutex_ held
  [[nodiscard]] bool dispatch_finished() const;                  // dispatch_mutex_ held
  void release_waiting();
  /// A requester would go idle (a request waits, or rank 0's thread found nothing): ask queued,
  /// unstarted chunks back from the ranks that hold them (the dispatch core picks them).
  void reclaim();
  /// Once every task is done: ranks still computing a chunk a speculative copy finished are told to stop.
  void release_superseded();
  [[nodiscard]] int rank_of_worker(int worker) const;
  void begin_stop();
  void abandon();
  void compute_locally(RankStats& stats);
  /// Every second: the live status beside the output, and (on a terminal) the progress line; off
  /// a terminal a progress line every options_.progress_seconds. `last`: the run's final figures.
  void report_progress(double now, bool last);
  /// Policies see the ranks that ask rank 0 for work as 0..P-1 (rank 0's compute thread, the direct
  /// workers, the group masters); a group member maps to its group master.
  [[nodiscard]] int worker_index(int rank) const noexcept { return requester_[static_cast<std::size_t>(rank)]; }

  const boost::mpi::communicator& world_;
  const job::JobSpec& spec_;
  std::vector<app::Kernel*> kernels_;
  const StartLimit* limit_;
  const job::TaskOrder& order_;
  io::ResultsFile& file_;
  FarmOptions options_;
  double t0_;
  std::vector<std::string> hosts_;
  std::vector<std::size_t> widths_;
  bool local_compute_;
  std::vector<int> requester_;  // per rank: its worker number for rank 0's policy
  TaskIndex total_pending_;

  std::mutex dispatch_mutex_;  // guards the core and everything below up to the writer
  schedule::DispatchCore core_;
  std::vector<TaskRange> ranges_;        // a reply's chunks (the MPI thread's scratch)
  std::vector<TaskRange> ranges_local_;  // the compute thread's
  std::atomic<bool> local_idle_{false};  // rank 0's compute thread found nothing to do
  std::condition_variable local_wake_;    // ... and waits on this, with dispatch_mutex_
  std::map<TaskIndex, std::uint32_t> attempts_;  // failed attempts counted against retries
  std::map<TaskIndex, std::uint32_t> numbered_;  // every failed attempt, earlier runs' too
  std::vector<std::pair<int, std::uint32_t>> waiting_;  // deferred requests: (rank, chunks wanted)
  std::atomic<bool> stopping_{false};
  bool stopped_by_failure_ = false;
  int stopped_rank_ = -1;         // a worker that stopped on its own (kStopped), for the message
  ReportBuffers buffers_;          // reports the writer has written, for the next ones (before writer_: it outlives it)
  ResultWriter writer_;

  int active_workers_;
  std::vector<bool> finished_;  // per rank: sent its final report
  bool asked_last_flush_ = false;    // under dispatch_mutex_: the writer checkpoints once every result is in
  std::vector<bool> told_no_more_;  // per rank: answered "no more work" (it leaves by itself)
  std::vector<bool> heard_;         // per rank: sent us a message (ranks that never ask us count as heard)
  int unheard_ = 0;                 // ranks that ask us and have not been heard yet
  static constexpr double kFirstAsksSeconds = 0.005;  // how long run() serves them before computing
  double stop_deadline_ = 0.0;

  std::atomic<bool> local_done_{false};
  std::atomic<bool> local_failed_{false};
  std::exception_ptr local_error_;
  std::uint64_t messages_ = 0;    // reports taken up by the MPI thread
  double service_seconds_ = 0.0;  // wall time spent on them: the simulator's service time
  double last_progress_ = 0.0;   // last progress line
  double last_status_ = -1e300;  // last live status
  bool status_failed_ = false;   // the status could not be written once: not tried again
  bool tty_ = false;             // stderr is a terminal: one updating line
  std::deque<std::pair<double, std::uint64_t>> rate_window_;  // (time, tasks settled): the recent rate
};

}  // namespace taskfarm::farm
