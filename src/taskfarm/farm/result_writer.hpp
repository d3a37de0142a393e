#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "taskfarm/farm/protocol.hpp"
#include "taskfarm/farm/report_buffers.hpp"
#include "taskfarm/io/live_status.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/io/task_state_log.hpp"
#include "taskfarm/io/task_write_buffer.hpp"
#include "taskfarm/job/task_order.hpp"

namespace taskfarm::farm {

/// @brief One report for the writer, with what the master decided about its failed tasks.
/// @brief One failed attempt as the master saw it: at a schedule position (the writer files it
/// under its task index).
struct FailedAttempt {
  Position position;
  std::uint32_t attempt = 0;
  std::int32_t rank = 0;
  std::string host;
  std::string message;
};

struct WriterItem {
  int rank = 0;
  std::vector<std::byte> report;
  std::vector<FailedAttempt> failures;  ///< one per failed attempt, attempt numbers filled in
  std::vector<Position> failed;         ///< positions whose task failed for good (no retry left)
  std::vector<TaskRange> copies;        ///< chunks of this report that were speculative copies
  std::vector<TaskRange> skip;          ///< positions whose results in this report are dropped (another
                                        ///< copy's came first), sorted
};

/// @brief Rank 0's disk thread: decodes reports and writes them, so that dispatch never waits for
/// the disk. Holds at most `max_queue_bytes` of reports; beyond that push() blocks (backpressure).
/// Every `flush_seconds` it checkpoints: results first, then (after an H5Fflush) their task states,
/// so that a task marked done in the file always has its results there (io::TaskStateLog).
/// Reports speak schedule positions; the writer is where they become task indices (`order`).
class ResultWriter {
 public:
  static constexpr std::size_t kDefaultQueueBytes = std::size_t{4} << 20;

  /// @param order outlives the writer
  /// @param attempts failed attempts of earlier runs, by position (a resumed job's /failures)
  /// @param spares gets every written report's buffer back, for the next report; may be null
  ResultWriter(io::ResultsFile& file, std::vector<std::size_t> field_bytes, const job::TaskOrder& order,
               double flush_seconds, bool fsync = true, std::map<TaskIndex, std::uint32_t> attempts = {},
               std::size_t max_queue_bytes = kDefaultQueueBytes, ReportBuffers* spares = nullptr);
  ~ResultWriter();
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  /// @brief Queues a report. With `wake` false the thread is not woken for it (unless the queue is
  /// half full): rank 0's MPI thread queues under its dispatch lock and wakes the writer with wake()
  /// once its reply is out, so the writer does not take the core between a report and its answer.
  void push(WriterItem item, bool wake = true);
  /// @brief Wakes the thread for what push() queued without waking it.
  void wake() { cv_.notify_all(); }
  /// @brief Asks for a checkpoint as soon as the queue is drained (rank 0 calls it when the last
  /// result is in), so that finish() has little left to write.
  void flush_soon();
  /// @brief Writes everything queued, flushes the file and stops the thread; rethrows its error.
  void finish();
  /// @brief The thread's error, if it died (the master checks this while it waits).
  [[nodiscard]] bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }

  [[nodiscard]] std::uint64_t tasks_done() const noexcept { return done_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t tasks_failed() const noexcept { return failed_tasks_.load(std::memory_order_relaxed); }
  [[nodiscard]] double cpu_seconds() const noexcept { return cpu_seconds_; }
  /// @brief Fills the live view's per-rank work, slowest tasks and latest failures (any thread).
  void fill_live(io::LiveStatus& status) const;

 private:
  void loop();
  void consume(const WriterItem& item);
  /// Positions [k, k + run.length) of a piece, which are tasks run.tasks(): results and done states.
  std::uint64_t put_run(const PieceView& piece, const job::TaskOrder::Run& run, int rank);
  void flush_all();
  /// Folds what consume() saw into the live view (under live_mutex_, once per report).
  void publish_live(int rank);

  io::ResultsFile& file_;
  io::TaskWriteBuffer buffer_;
  std::vector<std::size_t> field_bytes_;
  const job::TaskOrder& order_;
  double flush_seconds_;
  bool fsync_;
  std::size_t max_queue_bytes_;
  ReportBuffers* spares_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<WriterItem> queue_;
  std::size_t queued_bytes_ = 0;
  bool closing_ = false;
  bool flush_asked_ = false;  // under mutex_

  std::vector<io::ChunkRow> chunk_rows_;
  std::vector<io::FailureRow> failure_rows_;
  io::TaskStateLog states_;
  std::vector<std::int32_t> rank_fill_;
  std::map<TaskIndex, std::uint32_t> failed_attempts_;  // by position: the last failed attempt's number
  std::vector<std::uint32_t> attempts_fill_;
  std::vector<job::TaskOrder::Run> runs_;
  std::vector<const std::byte*> columns_;
  std::vector<std::vector<std::byte>> reversed_;  // a descending run's columns, turned ascending
  std::vector<double> reversed_seconds_;
  std::vector<std::uint8_t> reversed_state_;
  std::atomic<std::uint64_t> done_{0};
  std::atomic<std::uint64_t> failed_tasks_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  double cpu_seconds_ = 0.0;

  // The live view: the writer thread gathers a report's figures without a lock, then publishes.
  static constexpr std::size_t kRecentFailures = 5;
  std::uint64_t scratch_tasks_ = 0;
  double scratch_busy_ = 0.0;
  std::vector<io::LiveStatus::Task> scratch_slowest_;  // slowest first, at most kSlowest
  mutable std::mutex live_mutex_;
  std::vector<io::LiveStatus::Rank> live_ranks_;  // by rank
  std::vector<io::LiveStatus::Task> live_slowest_;
  std::deque<io::LiveStatus::Failure> live_failures_;

  std::thread thread_;
};

}  // namespace taskfarm::farm
