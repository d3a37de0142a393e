#include "taskfarm/farm/result_writer.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iterator>

#include "taskfarm/core/clock.hpp"
#include "taskfarm/farm/protocol.hpp"

namespace taskfarm::farm {

namespace {

/// /chunks rows gathered before they are appended (56 bytes each: 0.9 MiB). 65536 kept 3.5 MiB, and
/// 7 MiB while the vector grew, on rank 0 under ss, where every task is a chunk.
constexpr std::size_t kChunkRowsPerAppend = 16384;

/// Every per-task column but /tasks/state, which only a checkpoint writes.
std::vector<std::size_t> buffered_columns(const io::ResultsFile& file) {
  std::vector<std::size_t> columns;
  for (std::size_t c = 0; c < file.column_count(); ++c) {
    if (c != file.state_column()) {
      columns.push_back(c);
    }
  }
  return columns;
}

}  // namespace

ResultWriter::ResultWriter(io::ResultsFile& file, std::vector<std::size_t> field_bytes, const job::TaskOrder& order,
                           double flush_seconds, bool fsync, std::map<TaskIndex, std::uint32_t> attempts,
                           std::size_t max_queue_bytes, ReportBuffers* spares)
    : file_(file),
      buffer_(file, buffered_columns(file)),
      field_bytes_(std::move(field_bytes)),
      order_(order),
      flush_seconds_(flush_seconds),
      fsync_(fsync),
      max_queue_bytes_(max_queue_bytes),
      spares_(spares),
      failed_attempts_(std::move(attempts)),
      thread_([this] { loop(); }) {}

ResultWriter::~ResultWriter() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
}

void ResultWriter::push(WriterItem item, bool wake) {
  std::unique_lock lock(mutex_);
  if (queued_bytes_ >= max_queue_bytes_) {
    cv_.notify_all();  // what earlier quiet pushes queued: the thread makes the room we wait for
  }
  cv_.wait(lock, [&] { return queued_bytes_ < max_queue_bytes_ || failed(); });
  queued_bytes_ += item.report.capacity();  // the memory it holds, not only what it says
  queue_.push_back(std::move(item));
  wake = wake || queued_bytes_ >= max_queue_bytes_ / 2;
  lock.unlock();
  if (wake) {
    cv_.notify_all();
  }
}

void ResultWriter::flush_soon() {
  {
    std::lock_guard lock(mutex_);
    flush_asked_ = true;
  }
  cv_.notify_all();
}

void ResultWriter::finish() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (error_) {
    std::rethrow_exception(error_);
  }
}

void ResultWriter::loop() {
  io::silence_hdf5_errors();  // per thread in a thread-safe HDF5: else a full disk prints ~40 lines
  chunk_rows_.reserve(kChunkRowsPerAppend);  // once: no growth by doubling
  try {
    double last_flush = now_seconds();
    for (;;) {
      WriterItem item;
      bool flush_now = false;
      {
        std::unique_lock lock(mutex_);
        const auto timeout = std::chrono::duration<double>(flush_seconds_);
        cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || closing_ || flush_asked_; });
        if (queue_.empty() && closing_) {
          break;
        }
        if (!queue_.empty()) {
          item = std::move(queue_.front());
          queue_.pop_front();
          queued_bytes_ -= item.report.capacity();
        }
        flush_now = flush_asked_ && queue_.empty();  // after the last queued report, not before it
        flush_asked_ = flush_asked_ && !flush_now;
      }
      cv_.notify_all();  // wakes a push() waiting for room
      if (!item.report.empty()) {
        consume(item);
        if (spares_ != nullptr) {
          spares_->give(std::move(item.report));
        }
      }
      if (flush_now || now_seconds() - last_flush >= flush_seconds_) {
        flush_all();
        last_flush = now_seconds();
      }
    }
    flush_all();
  } catch (...) {
    error_ = std::current_exception();
    failed_.store(true, std::memory_order_release);
    cv_.notify_all();
  }
  cpu_seconds_ = thread_cpu_seconds();
}

void ResultWriter::consume(const WriterItem& item) {
  const Report report = decode_report(item.report, field_bytes_);
  for (const FailedAttempt& f : item.failures) {  // before the pieces: a failed task's row counts this attempt
    failed_attempts_[f.position.value] = f.attempt;
  }
  std::uint64_t done = 0;
  for (const PieceView& p : report.pieces) {
    TaskIndex from = p.range.begin;
    auto write = [&](TaskRange part) {  // put_run takes any stretch of the piece
      if (part.empty()) {
        return;
      }
      order_.runs(part, runs_);
      for (const job::TaskOrder::Run& run : runs_) {
        done += put_run(p, run, item.rank);
      }
    };
    for (const TaskRange s : item.skip) {  // usually none: only a speculative copy's duplicates
      if (s.end <= from || s.begin >= p.range.end) {
        continue;
      }
      write({from, std::max(from, s.begin)});
      from = std::min(p.range.end, s.end);
    }
    write({from, p.range.end});
  }
  for (const ChunkSummary& c : report.chunks) {  // /chunks keeps positions: the schedule as it ran
    const bool copy = std::find(item.copies.begin(), item.copies.end(), c.range) != item.copies.end();
    chunk_rows_.push_back({c.range.begin, c.range.end, item.rank, c.assigned, c.started, c.finished,
                           static_cast<std::uint8_t>(copy ? 1 : 0)});
  }
  for (const FailedAttempt& f : item.failures) {
    failure_rows_.push_back({order_.task(f.position), f.attempt, f.rank, f.host, f.message});
  }
  {
    std::lock_guard lock(live_mutex_);
    for (const FailedAttempt& f : item.failures) {
      live_failures_.push_back({order_.task(f.position), f.attempt, f.rank, f.host, f.message});
      if (live_failures_.size() > kRecentFailures) {
        live_failures_.pop_front();
      }
    }
  }
  publish_live(item.rank);
  for (const Position position : item.failed) {
    states_.add_failed(order_.task(position));
  }
  if (chunk_rows_.size() >= kChunkRowsPerAppend) {
    file_.append_chunks(chunk_rows_);
    chunk_rows_.clear();
  }
  done_.fetch_add(done, std::memory_order_relaxed);
  failed_tasks_.fetch_add(item.failed.size(), std::memory_order_relaxed);
}

std::uint64_t ResultWriter::put_run(const PieceView& piece, const job::TaskOrder::Run& run, int rank) {
  const std::size_t nf = field_bytes_.size();
  const TaskIndex n = run.length;
  const TaskIndex k0 = run.position - piece.range.begin;
  const bool attempts = file_.attempts_column().has_value();
  columns_.resize(nf + (attempts ? 3 : 2));  // fields, rank, seconds, attempts (state: see TaskStateLog)
  const double* seconds = piece.seconds + k0;
  const std::uint8_t* state = piece.state + k0;
  if (!run.descending) {
    for (std::size_t f = 0; f < nf; ++f) {
      columns_[f] = piece.fields[f] + k0 * field_bytes_[f];
    }
  } else {  // position k0 + j is task first_task - j: copy into ascending task order
    reversed_.resize(nf);
    for (std::size_t f = 0; f < nf; ++f) {
      const std::size_t w = field_bytes_[f];
      reversed_[f].resize(n * w);
      for (TaskIndex j = 0; j < n; ++j) {
        std::memcpy(reversed_[f].data() + (n - 1 - j) * w, piece.fields[f] + (k0 + j) * w, w);
      }
      columns_[f] = reversed_[f].data();
    }
    reversed_seconds_.assign(std::make_reverse_iterator(seconds + n), std::make_reverse_iterator(seconds));
    reversed_state_.assign(std::make_reverse_iterator(state + n), std::make_reverse_iterator(state));
    seconds = reversed_seconds_.data();
    state = reversed_state_.data();
  }
  rank_fill_.assign(n, rank);
  columns_[nf] = reinterpret_cast<const std::byte*>(rank_fill_.data());
  columns_[nf + 1] = reinterpret_cast<const std::byte*>(seconds);
  if (attempts) {  // the runs of each task so far: its failed attempts, and this one if it succeeded
    constexpr auto kDone = static_cast<std::uint8_t>(io::TaskState::done);
    attempts_fill_.resize(n);
    for (TaskIndex j = 0; j < n; ++j) {
      attempts_fill_[j] = state[j] == kDone ? 1 : 0;
    }
    // Tasks that failed before (a retry, or a resumed job's): few, found by range, not per task.
    for (auto it = failed_attempts_.lower_bound(run.position); it != failed_attempts_.end() && it->first < run.position + n;
         ++it) {
      const TaskIndex k = it->first - run.position;
      attempts_fill_[run.descending ? n - 1 - k : k] += it->second;
    }
    columns_[nf + 2] = reinterpret_cast<const std::byte*>(attempts_fill_.data());
  }
  const TaskRange tasks = run.tasks();
  buffer_.put(tasks, columns_);
  std::uint64_t done = 0;
  for (TaskIndex k = 0; k < n;) {  // runs of done tasks; failed ones are the master's to judge
    if (state[k] != static_cast<std::uint8_t>(io::TaskState::done)) {
      ++k;
      continue;
    }
    TaskIndex e = k;
    while (e < n && state[e] == static_cast<std::uint8_t>(io::TaskState::done)) {
      ++e;
    }
    states_.add_done({tasks.begin + k, tasks.begin + e});
    done += e - k;
    for (TaskIndex j = k; j < e; ++j) {  // the live view: busy time and the slowest tasks
      scratch_busy_ += seconds[j];
    }
    for (TaskIndex j = k; j < e; ++j) {
      io::LiveStatus::keep_slowest(scratch_slowest_, {tasks.begin + j, seconds[j]});
    }
    k = e;
  }
  scratch_tasks_ += done;
  return done;
}

void ResultWriter::publish_live(int rank) {
  std::lock_guard lock(live_mutex_);
  if (live_ranks_.size() <= static_cast<std::size_t>(rank)) {
    live_ranks_.resize(static_cast<std::size_t>(rank) + 1);
  }
  io::LiveStatus::Rank& r = live_ranks_[static_cast<std::size_t>(rank)];
  r.rank = rank;
  r.tasks += scratch_tasks_;
  r.busy_seconds += scratch_busy_;
  live_slowest_ = scratch_slowest_;  // scratch keeps the whole run's slowest, not the report's
  scratch_tasks_ = 0;
  scratch_busy_ = 0.0;
}

void ResultWriter::fill_live(io::LiveStatus& status) const {
  std::lock_guard lock(live_mutex_);
  for (std::size_t r = 0; r < status.ranks.size() && r < live_ranks_.size(); ++r) {
    status.ranks[r].tasks = live_ranks_[r].tasks;
    status.ranks[r].busy_seconds = live_ranks_[r].busy_seconds;
  }
  status.slowest = live_slowest_;
  status.recent_failures.assign(live_failures_.begin(), live_failures_.end());
}

void ResultWriter::flush_all() {
  buffer_.flush();
  if (fsync_) {
    file_.sync();  // results on disk, not only in the page cache, before any state says done
  } else {
    file_.flush();  // survives the death of the process, not of the node
  }
  states_.commit(file_);
  file_.append_chunks(chunk_rows_);
  chunk_rows_.clear();
  file_.append_failures(failure_rows_);
  failure_rows_.clear();
  file_.flush();
}

}  // namespace taskfarm::farm
