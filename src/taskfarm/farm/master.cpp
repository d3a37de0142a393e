#include "taskfarm/farm/master.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/mpi/environment.hpp>
#include <boost/mpi/status.hpp>
#include <fmt/format.h>

#include "taskfarm/core/clock.hpp"
#include "taskfarm/core/error.hpp"
#include "taskfarm/farm/chunk_runner.hpp"
#include "taskfarm/farm/idle_backoff.hpp"
#include "taskfarm/farm/protocol.hpp"
#include "taskfarm/farm/stop_signal.hpp"
#include "taskfarm/io/live_status.hpp"
#include "taskfarm/schedule/request_pacer.hpp"

namespace taskfarm::farm {

namespace {

constexpr std::size_t kLocalPushBytes = std::size_t{1} << 20;
// Written reports kept for the next ones: reports are ~1 MiB (kLocalPushBytes, a worker's
// kSendBytes), and about the writer's queue's worth (ResultWriter::kDefaultQueueBytes) is on its way back.
constexpr std::size_t kSpareReports = 8;
constexpr std::size_t kSpareReportBytes = std::size_t{8} << 20;
using schedule::cadence::kLocalPushSeconds;
using schedule::cadence::kPieceSeconds;
constexpr double kStopGraceSeconds = 3.0;  // then in-flight work is abandoned; all ranks exit < 5 s

/// Worker numbers for rank 0's policy: rank 0's thread (when it computes), then every rank that
/// asks rank 0 directly; a group member gets its group master's number.
std::vector<int> requesters(const Topology& topo, int size, bool local) {
  std::vector<int> index(static_cast<std::size_t>(size), 0);
  int next = local ? 1 : 0;
  for (int r = 1; r < size; ++r) {
    if (topo.scheduler_of(r) == 0 || topo.is_group_master(r)) {
      index[static_cast<std::size_t>(r)] = next++;
    }
  }
  for (int r = 1; r < size; ++r) {
    if (topo.scheduler_of(r) != 0 && !topo.is_group_master(r)) {
      index[static_cast<std::size_t>(r)] = index[static_cast<std::size_t>(topo.scheduler_of(r))];
    }
  }
  return index;
}

/// Rank 0's requesters as the dispatch core sees them.
schedule::Requesters who_asks(const Topology& topo, int size, bool local) {
  schedule::Requesters who;
  who.computing = local ? 1 : 0;
  if (local) {
    who.single.push_back(true);
    who.reclaimable.push_back(false);  // takes one chunk at a time: nothing queued to give back
  }
  for (int r = 1; r < size; ++r) {
    who.computing += topo.is_group_master(r) ? 0 : 1;
    if (topo.scheduler_of(r) == 0 || topo.is_group_master(r)) {
      who.single.push_back(!topo.is_group_master(r));
      who.reclaimable.push_back(!topo.is_group_master(r));
    }
  }
  if (who.single.empty()) {
    who.single.push_back(true);
    who.reclaimable.push_back(false);
  }
  who.workers = static_cast<int>(who.single.size());
  return who;
}

TaskIndex count_tasks(const std::vector<TaskRange>& ranges) {
  TaskIndex n = 0;
  for (TaskRange r : ranges) {
    n += r.size();
  }
  return n;
}

}  // namespace

Master::Master(const boost::mpi::communicator& world, const job::JobSpec& spec, std::vector<app::Kernel*> kernels,
               io::ResultsFile& file, const FarmOptions& options, const FarmPlan& plan, double t0,
               std::vector<std::string> hosts, const job::TaskOrder& order, const StartLimit* limit)
    : world_(world),
      spec_(spec),
      kernels_(std::move(kernels)),
      limit_(limit),
      order_(order),
      file_(file),
      options_(options),
      t0_(t0),
      hosts_(std::move(hosts)),
      widths_(field_bytes(*kernels_.front())),
      local_compute_(spec.schedule.master_computes || world.size() == 1),
      requester_(requesters(Topology(world.size(), static_cast<int>(spec.schedule.groups)), world.size(),
                            local_compute_)),
      total_pending_(count_tasks(plan.pending)),
      core_(schedule::DispatchCore::root_spec(spec.schedule.policy, spec.schedule.root_policy, spec.schedule.groups <= 1,
                                              order.is_identity() ? file.chunk_rows() : 0),
            plan.pending,
            who_asks(Topology(world.size(), static_cast<int>(spec.schedule.groups)), world.size(), local_compute_)),
      attempts_(plan.attempts),
      numbered_(plan.failed_before),
      buffers_(kSpareReports, kSpareReportBytes),
      writer_(file, widths_, order, options.flush_seconds, options.fsync, plan.failed_before,
              ResultWriter::kDefaultQueueBytes, &buffers_),
      active_workers_(world.size() - 1),
      finished_(static_cast<std::size_t>(world.size()), false),
      told_no_more_(static_cast<std::size_t>(world.size()), false),
      heard_(static_cast<std::size_t>(world.size()), true) {
  if (spec.schedule.speculate) {
    core_.enable_speculation();
  }
  const Topology topo(world.size(), static_cast<int>(spec.schedule.groups));
  for (int r = 1; r < world.size(); ++r) {
    const bool asks_us = topo.scheduler_of(r) == 0 || topo.is_group_master(r);
    heard_[static_cast<std::size_t>(r)] = !asks_us;
    unheard_ += asks_us ? 1 : 0;
  }
}

WriterItem Master::account(int rank, std::vector<std::byte> bytes) {
  WriterItem item;
  item.rank = rank;
  const int worker = worker_index(rank);
  if (core_.speculating()) {  // results of a task computed twice: the first wins
    for (const PieceView& p : decode_report(bytes, widths_).pieces) {
      core_.received(worker, p.range);
      core_.duplicates(p.range, {p.state, p.range.size()}, static_cast<std::uint8_t>(io::TaskState::done), item.skip);
    }
  }
  for (const ChunkSummary& c : decode_chunks(bytes)) {
    schedule::ChunkReport report{worker, c.range, c.compute_seconds, c.task_mean, c.task_variance};
    report.overhead_seconds = std::max(0.0, c.started - c.assigned);  // awf-d/e count the wait too
    if (core_.report(report)) {
      item.copies.push_back(c.range);  // marked in /chunks
    }
  }
  if (const ReportHeader h = peek_header(bytes); (h.flags & ReportHeader::kReclaimAnswer) != 0) {
    core_.reclaimed(worker, {h.reclaim_begin, h.reclaim_end}, (h.flags & ReportHeader::kGivenBack) != 0);
  }
  for (const FailureView& f : decode_failures(bytes)) {
    if (std::any_of(item.skip.begin(), item.skip.end(), [&](TaskRange r) { return r.contains(f.position.value); })) {
      continue;  // the other copy's result for this task came first
    }
    const std::uint32_t attempt = ++attempts_[f.position.value];  // against retries; keyed by position, as the plan's
    const std::uint32_t number = ++numbered_[f.position.value];   // the attempt's number over every run
    item.failures.push_back({f.position, number, rank, hosts_.at(static_cast<std::size_t>(rank)), std::string(f.message)});
    if (spec_.fail_fast) {
      item.failed.push_back(f.position);
      stopped_by_failure_ = true;
      request_stop(kStopFailFast);
    } else if (attempt <= spec_.retries && !stopping_.load()) {
      core_.retry(f.position.value, worker);
    } else if (attempt > spec_.retries) {
      item.failed.push_back(f.position);
    }  // else: stopping with retries left: the task stays pending for resume
  }
  item.report = std::move(bytes);
  return item;
}

void Master::queue_for_writer(WriterItem item, bool wake) {
  writer_.push(std::move(item), wake);
  if (!asked_last_flush_ && core_.finished() && !stopping_.load()) {
    asked_last_flush_ = true;  // every result is in: checkpoint now, while the ranks say goodbye
    writer_.flush_soon();
  }
}

bool Master::dispatch_finished() const { return stopping_.load() || core_.finished(); }

bool Master::fill(int source, std::uint32_t want, AssignMessage& reply) {
  const double now = now_seconds() - t0_;
  if (!stopping_.load()) {
    ranges_.clear();
    core_.reply(worker_index(source), want, ranges_, now);
    if (ranges_.empty()) {
      if (const auto tail = core_.speculate(worker_index(source), now)) {
        ranges_.push_back(*tail);  // a copy of a straggler's unfinished tail
      }
    }
    for (TaskRange r : ranges_) {
      reply.chunks.push_back({r, now});
    }
  }
  if (reply.chunks.empty() && dispatch_finished()) {
    reply.flags |= AssignMessage::kNoMoreWork;
    told_no_more_[static_cast<std::size_t>(source)] = true;
  }
  return !reply.chunks.empty() || (reply.flags & AssignMessage::kNoMoreWork) != 0;
}

void Master::serve(int source, std::vector<std::byte> bytes) {
  const ReportHeader header = peek_header(bytes);
  AssignMessage reply;
  bool answer = false;
  {
    // Queued for the writer under the lock that accounted it: a retry this report schedules cannot
    // overtake it, so a failed attempt's zeros never land after the retry's results.
    std::lock_guard lock(dispatch_mutex_);
    queue_for_writer(account(source, std::move(bytes)), false);  // woken once our answer is out
    if (header.want > 0) {
      answer = fill(source, header.want, reply);
      if (!answer) {
        waiting_.emplace_back(source, header.want);  // answered by release_waiting()
      }
    }
  }
  if (answer) {
    // Small and always pre-posted by the worker: a blocking send returns at once (eager protocol)
    // for up to a few hundred chunks and otherwise waits only for the worker's next poll.
    const std::vector<std::uint64_t> words = encode_assign(reply);
    world_.send(source, kTagAssign, words.data(), static_cast<int>(words.size()));
  }
  if ((header.flags & ReportHeader::kStopped) != 0 && !stopping_.load()) {
    stopped_rank_ = source;
    request_stop(kStopPeer);  // the run loop stops every rank: nobody waits for that rank's chunks
  }
  if ((header.flags & ReportHeader::kFinal) != 0) {
    --active_workers_;
    finished_[static_cast<std::size_t>(source)] = true;
  }
}

void Master::take_up(const boost::mpi::status& status) {
  const double taken_up = now_seconds();
  const int count = status.count<char>().value_or(0);
  std::vector<std::byte> buffer = buffers_.take(static_cast<std::size_t>(count));
  world_.recv(status.source(), kTagReport, reinterpret_cast<char*>(buffer.data()), count);
  if (!heard_[static_cast<std::size_t>(status.source())]) {
    heard_[static_cast<std::size_t>(status.source())] = true;
    --unheard_;
  }
  serve(status.source(), std::move(buffer));
  if (local_idle_.load()) {
    local_wake_.notify_one();
  }
  if (!waiting_.empty()) {  // only the master thread touches waiting_
    release_waiting();
  }
  if ((!waiting_.empty() || local_idle_.load()) && !stopping_.load() && stop_requested() == 0) {
    reclaim();
  }
  writer_.wake();  // the answers are out: the writer may have the core now
  report_progress(now_seconds(), false);  // a busy master still tells inspect (cheap unless due)
  ++messages_;
  service_seconds_ += now_seconds() - taken_up;
}

void Master::release_waiting() {
  std::vector<std::pair<int, AssignMessage>> replies;
  {
    std::lock_guard lock(dispatch_mutex_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      AssignMessage reply;
      if (fill(it->first, it->second, reply)) {
        replies.emplace_back(it->first, std::move(reply));
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& [rank, reply] : replies) {
    const std::vector<std::uint64_t> words = encode_assign(reply);
    world_.send(rank, kTagAssign, words.data(), static_cast<int>(words.size()));
  }
}

int Master::rank_of_worker(int worker) const {
  int rank = 1;
  while (rank < world_.size() && worker_index(rank) != worker) {
    ++rank;
  }
  return rank;
}

void Master::release_superseded() {
  std::vector<int> ranks;
  {
    std::lock_guard lock(dispatch_mutex_);
    if (!core_.finished()) {
      return;  // the copy's results are in; the job may still need the others' work
    }
    for (const int w : core_.take_superseded()) {
      const int rank = rank_of_worker(w);
      if (std::find(ranks.begin(), ranks.end(), rank) == ranks.end() && !told_no_more_[static_cast<std::size_t>(rank)]) {
        ranks.push_back(rank);  // once; a rank told "no more work" is not stuck and leaves by itself
      }
    }
  }
  for (const int rank : ranks) {
    if (!finished_[static_cast<std::size_t>(rank)]) {
      // Every task is done, its tail by a copy: it stops computing what nobody needs and leaves.
      fmt::print(stderr, "taskfarm: rank 0 on {}: every task is done; rank {} on {} is still on a chunk a speculative "
                         "copy finished: telling it to stop\n",
                 hosts_.at(0), rank, hosts_.at(static_cast<std::size_t>(rank)));
      world_.send(rank, kTagStop, kStopPeer);
    }
  }
}

void Master::reclaim() {
  std::vector<schedule::Reclaim> asks;
  {
    std::lock_guard lock(dispatch_mutex_);
    while (auto r = core_.reclaim()) {
      asks.push_back(*r);
    }
  }
  for (const schedule::Reclaim& r : asks) {
    const int rank = rank_of_worker(r.worker);
    if (finished_[static_cast<std::size_t>(rank)]) {
      continue;  // it has left (its report of those chunks is on its way): nothing to ask
    }
    const std::uint64_t words[kReclaimWords] = {r.range.begin, r.range.end};
    world_.send(rank, kTagReclaim, words, kReclaimWords);
  }
}

void Master::begin_stop() {
  stopping_.store(true);
  stop_deadline_ = now_seconds() + kStopGraceSeconds;
  const int reason = stop_requested();
  if (reason > 0) {
    fmt::print(stderr, "taskfarm: rank 0 on {}: signal {} received: stopping after the tasks in progress, then "
                       "checkpointing\n",
               hosts_.at(0), reason);
  } else if (reason == kStopFailFast) {
    fmt::print(stderr, "taskfarm: rank 0 on {}: a task failed and fail_fast is set: stopping\n", hosts_.at(0));
  } else {
    // Tasks in progress were started because they were expected to end in time: they may run to the end.
    if (limit_ != nullptr && limit_->active()) {
      stop_deadline_ = std::max(stop_deadline_, limit_->end + kStopGraceSeconds);
    }
    if (reason == kStopDeadline) {
      fmt::print(stderr, "taskfarm: rank 0 on {}: the next task is not expected to end before the job's end time: "
                         "stopping after the tasks in progress, then checkpointing\n", hosts_.at(0));
    } else {
      fmt::print(stderr, "taskfarm: rank 0 on {}: rank {} on {} stopped (its next task would not end before the "
                         "job's end time, or a signal reached it): stopping the job, then checkpointing\n",
                 hosts_.at(0), stopped_rank_, hosts_.at(static_cast<std::size_t>(std::max(stopped_rank_, 0))));
    }
  }
  std::fflush(stderr);
  const int order = reason != 0 ? reason : kStopPeer;  // workers cut commands short, or let them end, as we do
  for (int r = 1; r < world_.size(); ++r) {
    if (!finished_[static_cast<std::size_t>(r)]) {
      world_.send(r, kTagStop, order);
    }
  }
  release_waiting();  // every deferred request now hears "no more work"
}

void Master::abandon() {
  // Tasks still running past the grace period (a kernel cannot be interrupted) are given up:
  // everything received is made durable, the rest stays pending, and the job ends for every rank.
  fmt::print(stderr,
             "taskfarm: rank 0 on {}: tasks still running {:.0f} s after the stop: abandoning them (they stay "
             "pending)\n",
             hosts_.at(0), kStopGraceSeconds);
  writer_.finish();
  file_.set_attribute("status", std::string("incomplete"));
  file_.flush();
  io::remove_live_status(file_.path());
  fmt::print(stderr, "taskfarm: rank 0 on {}: checkpoint written; continue with: taskfarm resume {}\n", hosts_.at(0),
             file_.path().string());
  std::fflush(stderr);
  // fail_fast: the job failed (1), whatever was abandoned; else a stop to resume from (75).
  boost::mpi::environment::abort(static_cast<int>(stopped_by_failure_ ? ExitCode::tasks_failed : ExitCode::interrupted));
}

void Master::compute_locally(RankStats& stats) {
  try {
    ReportBuilder report(widths_, &buffers_);
    ChunkRunner runner(kernels_, widths_, order_, &stop_flag(), limit_);
    std::size_t task_bytes = sizeof(double) + 1;
    for (auto w : widths_) {
      task_bytes += w;
    }
    const TaskIndex piece_tasks = std::max<std::size_t>(1, kLocalPushBytes / task_bytes);
    double last_push = now_seconds();
    auto push = [&] {
      {
        std::lock_guard lock(dispatch_mutex_);  // accounted and queued in one step (see serve)
        queue_for_writer(account(0, report.take(0, 0)), true);
      }
      last_push = now_seconds();
    };
    for (;;) {
      std::optional<TaskRange> chunk;
      bool finished = false;
      {
        std::lock_guard lock(dispatch_mutex_);
        ranges_local_.clear();
        if (!stopping_.load()) {
          const double now = now_seconds() - t0_;
          core_.reply(0, 1, ranges_local_, now);
          if (ranges_local_.empty()) {
            if (const auto tail = core_.speculate(0, now)) {
              ranges_local_.push_back(*tail);  // a copy of a straggler's unfinished tail
            }
          }
        }
        if (!ranges_local_.empty()) {
          chunk = ranges_local_.front();
        } else {
          finished = dispatch_finished();
        }
      }
      if (!chunk) {
        if (!report.empty()) {
          push();  // our own finished chunks may be what the dispatcher is waiting for
        }
        if (finished) {
          break;
        }
        local_idle_.store(true);  // the MPI thread may ask queued chunks back from other ranks
        // A retry or a given-back chunk may still come, or the last report end the run: the MPI
        // thread wakes us after each message it serves (the timeout covers the rest).
        std::unique_lock lock(dispatch_mutex_);
        local_wake_.wait_for(lock, std::chrono::milliseconds(1),
                             [&] { return core_.remaining() > 0 || dispatch_finished(); });
        continue;
      }
      local_idle_.store(false);
      const double assigned = now_seconds();
      runner.reset_stats();
      TaskIndex cursor = chunk->begin;
      while (cursor < chunk->end && stop_requested() == 0) {
        const double t = now_seconds();
        const std::uint64_t failures = runner.failures();
        const TaskIndex reached =
            runner.run({cursor, std::min(chunk->end, cursor + piece_tasks)}, report, t + kPieceSeconds);
        stats.busy_seconds += now_seconds() - t;
        stats.tasks += reached - cursor;
        cursor = reached;
        // A failure goes out at once: its retry (or fail_fast's stop) must not wait for our next task.
        if (runner.failures() != failures || report.size_bytes() >= kLocalPushBytes ||
            now_seconds() - last_push >= kLocalPushSeconds) {
          push();
        }
      }
      if (cursor > chunk->begin) {  // the whole chunk, or the part computed before a stop
        const double finished_at = now_seconds();
        const RunningMoments& s = runner.stats();
        report.add_chunk({{chunk->begin, cursor}, assigned - t0_, assigned - t0_, finished_at - t0_,
                          finished_at - assigned, s.mean, s.variance()});
        ++stats.chunks;
      }
      if (cursor < chunk->end) {
        break;  // stopped
      }
    }
    if (!report.empty()) {
      push();
    }
    local_idle_.store(false);  // done for good: the MPI thread has no reclaim to make for it
  } catch (...) {
    local_error_ = std::current_exception();
    local_failed_.store(true, std::memory_order_release);
  }
  local_done_.store(true, std::memory_order_release);
}

namespace {

/// True when stderr ends on a terminal: ours, or under mpirun (whose ranks write into a pipe it
/// forwards) the launcher's. A batch log or a file gets lines instead of one updating line.
bool stderr_is_terminal() {
  if (::isatty(STDERR_FILENO) != 0) {
    return true;
  }
  // Only under a launcher that forwards our stderr through a pipe: `taskfarm run 2> log` from a
  // terminal has a terminal-owning parent too, and must get lines.
  struct stat st {};
  if (std::getenv("OMPI_COMM_WORLD_RANK") == nullptr || ::fstat(STDERR_FILENO, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    return false;
  }
  std::ifstream comm(fmt::format("/proc/{}/comm", ::getppid()));
  std::string launcher;
  std::getline(comm, launcher);
  if (launcher != "mpirun" && launcher != "mpiexec" && launcher != "orterun" && launcher != "prterun") {
    return false;
  }
  std::error_code ec;
  const std::string parent = std::filesystem::read_symlink(fmt::format("/proc/{}/fd/2", ::getppid()), ec).string();
  return !ec && (parent.starts_with("/dev/pts/") || parent.starts_with("/dev/tty"));
}

}  // namespace

void Master::report_progress(double now, bool last) {
  const bool status_due = now - last_status_ >= 1.0;
  const bool line_due = options_.progress_seconds > 0 && (tty_ ? status_due : now - last_progress_ >= options_.progress_seconds);
  if (total_pending_ == 0 || (!last && !status_due && !line_due)) {
    return;
  }
  const double elapsed = now - t0_;
  const std::uint64_t done = writer_.tasks_done();
  const std::uint64_t failed = writer_.tasks_failed();
  const std::uint64_t settled = done + failed;
  rate_window_.emplace_back(now, settled);
  while (rate_window_.size() > 2 && now - rate_window_.front().first > 10.0) {
    rate_window_.pop_front();
  }
  const auto& [t_first, n_first] = rate_window_.front();
  const double rate = now - t_first > 0.5 ? static_cast<double>(settled - n_first) / (now - t_first)
                      : elapsed > 0       ? static_cast<double>(settled) / elapsed
                                          : 0.0;
  const TaskIndex n = total_pending_;
  const double eta = rate > 0 ? static_cast<double>(n - std::min(n, settled)) / rate : -1.0;

  if (status_due) {
    last_status_ = now;  // also when the status is not written: the line and the rate follow it
  }
  if (!last && status_due && !status_failed_) {
    io::LiveStatus status;
    status.output = file_.path().string();
    status.job_name = spec_.name;
    status.app = spec_.app;
    status.pid = static_cast<int>(::getpid());
    status.host = hosts_.at(0);
    status.updated = io::utc_now();
    status.n_tasks = file_.n_tasks();
    status.to_do = n;
    status.earlier = file_.n_tasks() - n;
    status.done = done;
    status.failed = failed;
    status.stopping = stopping_.load();
    status.elapsed_seconds = elapsed;
    status.tasks_per_second = rate;
    status.eta_seconds = eta;
    for (std::size_t r = 0; r < hosts_.size(); ++r) {
      status.ranks.push_back({static_cast<int>(r), hosts_[r], 0, 0.0, 0});
    }
    writer_.fill_live(status);
    if (spec_.schedule.groups <= 1) {  // with group masters, a chunk's results come from another rank
      std::lock_guard lock(dispatch_mutex_);  // the compute thread hands out chunks too
      for (std::size_t r = 0; r < status.ranks.size(); ++r) {
        const bool asks = r != 0 || local_compute_;
        status.ranks[r].in_open_chunks = asks ? core_.held(worker_index(static_cast<int>(r))) : 0;
      }
    }
    if (const int error = io::write_live_status(status); error != 0) {
      status_failed_ = true;  // the job matters more than its live view: not tried again
      io::remove_live_status(file_.path());  // nor is a stale one left for inspect to show
      if (error != ENOSPC && error != EDQUOT) {  // a full disk is the output's to report, once
        fmt::print(stderr, "taskfarm: rank 0 on {}: cannot write the live status {} ({}); taskfarm inspect will "
                           "not show this job until it ends\n",
                   hosts_.at(0), io::live_status_path(file_.path()).string(), std::strerror(error));
      }
    }
  }

  if (options_.progress_seconds <= 0) {
    return;
  }
  const std::string figures =
      fmt::format("{}/{} tasks ({:.1f}%), {:.0f} tasks/s, {} failed, elapsed {:.0f} s{}", settled, n,
                  100.0 * static_cast<double>(settled) / static_cast<double>(n), rate, failed, elapsed,
                  last || eta < 0 ? "" : fmt::format(", ETA {:.0f} s", eta));
  if (tty_) {  // one line, rewritten in place; the last one stays
    fmt::print(stderr, "\rtaskfarm: {:<90}{}", figures, last ? "\n" : "");
  } else if (last || line_due) {
    last_progress_ = now;
    fmt::print(stderr, "taskfarm: rank 0 on {}: {}\n", hosts_.at(0), figures);
  }
  std::fflush(stderr);
}

FarmResult Master::run(RankStats& local_stats) {
  last_progress_ = now_seconds();
  tty_ = stderr_is_terminal();
  report_progress(now_seconds(), false);  // a status at once: inspect sees the job from its start
  std::thread local;
  const double cpu_before = thread_cpu_seconds();
  IdleBackoff backoff;
  try {
    // The ranks' first requests arrive within a fraction of a millisecond. Served before our compute
    // thread takes the core we share, they do not wait for the kernel to preempt it (1-4 ms on 2 cores).
    const double first_asks_until = now_seconds() + kFirstAsksSeconds;
    while (local_compute_ && unheard_ > 0 && now_seconds() < first_asks_until && stop_requested() == 0) {
      if (auto status = world_.iprobe(boost::mpi::any_source, kTagReport)) {
        take_up(*status);
      } else {
        backoff.idle(true);
      }
    }
    backoff.reset();
    if (local_compute_) {
      local = std::thread([&] { compute_locally(local_stats); });
    } else {
      local_done_.store(true);
    }
    while (active_workers_ > 0 || !local_done_.load(std::memory_order_acquire)) {
      if (local_failed_.load(std::memory_order_acquire)) {
        std::rethrow_exception(local_error_);
      }
      if (writer_.failed()) {
        writer_.finish();  // rethrows the writer's error
      }
      if (!stopping_.load() && stop_requested() != 0) {
        begin_stop();
      }
      if (stopping_.load() && now_seconds() > stop_deadline_) {
        local.detach();  // abandon() ends the process; a kernel cannot be interrupted
        abandon();
      }
      if (auto status = world_.iprobe(boost::mpi::any_source, kTagReport)) {
        take_up(*status);
        backoff.reset();
        continue;
      }
      if (!waiting_.empty()) {
        release_waiting();  // rank 0's own results may have settled what they wait for
      }
      if ((!waiting_.empty() || local_idle_.load()) && !stopping_.load() && stop_requested() == 0) {
        reclaim();
      }
      if (core_.speculating() && !stopping_.load()) {
        release_superseded();
      }
      report_progress(now_seconds(), false);
      // Our compute thread has nothing to do: the core is free, and what we wait for (a last report,
      // a reclaim's answer) ends the run or feeds that thread, so we look often.
      backoff.idle(local_compute_ && (local_idle_.load() || local_done_.load()));
    }
  } catch (...) {
    if (local.joinable()) {
      local.detach();  // the caller aborts the job; a blocked compute thread must not hold it up
    }
    io::remove_live_status(file_.path());  // the job is ending: its status must not say "running"
    throw;
  }
  const double master_cpu = thread_cpu_seconds() - cpu_before;
  if (local.joinable()) {
    local.join();
  }
  if (!stopping_.load() && stop_requested() != 0) {
    begin_stop();  // rank 0's own compute thread stopped last (its deadline): the job stopped all the same
  }
  if (local_failed_.load()) {
    std::rethrow_exception(local_error_);
  }
  writer_.finish();
  report_progress(now_seconds(), true);
  io::remove_live_status(file_.path());  // the file holds everything now; a status would be stale

  FarmResult result;
  result.wall_seconds = now_seconds() - t0_;
  result.master_cpu_seconds = master_cpu;
  result.master_messages = messages_;
  result.master_service_seconds = service_seconds_;
  result.stopped_by_signal = stopping_.load() && !stopped_by_failure_;  // a signal, or a deadline: resume me
  const int reason = stop_requested();
  if (result.stopped_by_signal && (reason == kStopDeadline || reason == kStopPeer) && limit_ != nullptr &&
      limit_->active() && writer_.tasks_done() == 0 && writer_.tasks_failed() == 0) {
    // Not one task fitted: a requeued job with the same time would stop the same way, forever.
    result.stopped_by_signal = false;  // exit 1, not 75: nothing requeues it
    fmt::print(stderr, "taskfarm: rank 0 on {}: no task could start: none is expected to end before the job's end "
                       "time; a requeued job would stop the same way. Give the job more time, or lower [job] "
                       "expected_seconds\n", hosts_.at(0));
  }
  file_.set_attribute("writer_cpu_seconds", writer_.cpu_seconds());
  if (core_.speculating()) {
    file_.set_attribute("speculative_copies", static_cast<std::int64_t>(core_.copies()));
  }
  return result;
}

}  // namespace taskfarm::farm
