#include "taskfarm/farm/master.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <list>
#include <thread>

#include <boost/mpi/request.hpp>
#include <boost/mpi/status.hpp>
#include <fmt/format.h>

#include "taskfarm/core/clock.hpp"
#include "taskfarm/farm/chunk_runner.hpp"
#include "taskfarm/farm/idle_backoff.hpp"
#include "taskfarm/farm/protocol.hpp"

namespace taskfarm::farm {

namespace {

constexpr std::size_t kLocalPushBytes = std::size_t{1} << 20;
constexpr double kLocalPushSeconds = 0.2;
constexpr double kPieceSeconds = 0.25;

std::vector<TaskRange> all_tasks(const job::JobSpec& spec) { return {TaskRange{0, spec.params.size()}}; }

int computing_ranks(int size, bool local) { return size - 1 + (local ? 1 : 0); }

}  // namespace

Master::Master(const boost::mpi::communicator& world, const job::JobSpec& spec, app::Kernel& kernel,
               io::ResultsFile& file, const FarmOptions& options, double t0, std::vector<std::string> hosts)
    : world_(world),
      spec_(spec),
      kernel_(kernel),
      file_(file),
      options_(options),
      t0_(t0),
      widths_(field_bytes(kernel)),
      local_compute_(spec.schedule.master_computes || world.size() == 1),
      dispatcher_(spec.schedule.policy, all_tasks(spec), computing_ranks(world.size(), local_compute_)),
      writer_(file, widths_, std::move(hosts), options.flush_seconds),
      active_workers_(world.size() - 1) {}

void Master::compute_locally(RankStats& stats) {
  try {
    ReportBuilder report(widths_);
    ChunkRunner runner(kernel_, widths_);
    std::size_t task_bytes = sizeof(double) + 1;
    for (auto w : widths_) {
      task_bytes += w;
    }
    const TaskIndex piece_tasks = std::max<std::size_t>(1, kLocalPushBytes / task_bytes);
    double last_push = now_seconds();
    for (;;) {
      std::optional<TaskRange> chunk;
      {
        std::lock_guard lock(dispatch_mutex_);
        chunk = dispatcher_.next(0);
      }
      if (!chunk) {
        break;
      }
      const double assigned = now_seconds();
      runner.reset_stats();
      TaskIndex cursor = chunk->begin;
      while (cursor < chunk->end) {
        const double t = now_seconds();
        const TaskIndex reached = runner.run({cursor, std::min(chunk->end, cursor + piece_tasks)}, report,
                                             t + kPieceSeconds);
        stats.busy_seconds += now_seconds() - t;
        stats.tasks += reached - cursor;
        cursor = reached;
        if (report.size_bytes() >= kLocalPushBytes || now_seconds() - last_push >= kLocalPushSeconds) {
          writer_.push(0, report.take(0, 0));
          last_push = now_seconds();
        }
      }
      const double finished = now_seconds();
      const TaskTimeStats& s = runner.stats();
      const ChunkSummary summary{*chunk,   assigned - t0_,     assigned - t0_, finished - t0_,
                                 finished - assigned, s.mean, s.variance()};
      report.add_chunk(summary);
      ++stats.chunks;
      {
        std::lock_guard lock(dispatch_mutex_);
        dispatcher_.observe({0, *chunk, summary.compute_seconds, s.mean, s.variance()});
      }
    }
    if (!report.empty()) {
      writer_.push(0, report.take(0, 0));
    }
  } catch (...) {
    local_error_ = std::current_exception();
    local_failed_.store(true, std::memory_order_release);
  }
  local_done_.store(true, std::memory_order_release);
}

void Master::serve(int source, std::vector<std::byte> bytes) {
  const ReportHeader header = peek_header(bytes);
  const std::vector<ChunkSummary> finished = decode_chunks(bytes);
  AssignMessage reply;
  {
    std::lock_guard lock(dispatch_mutex_);
    const int worker = worker_index(source);
    for (const ChunkSummary& c : finished) {
      dispatcher_.observe({worker, c.range, c.compute_seconds, c.task_mean, c.task_variance});
    }
    const double now = now_seconds() - t0_;
    for (std::uint32_t k = 0; k < header.want; ++k) {
      const auto chunk = dispatcher_.next(worker);
      if (!chunk) {
        reply.flags |= AssignMessage::kNoMoreWork;
        break;
      }
      reply.chunks.push_back({*chunk, now});
    }
  }
  if (header.want > 0) {
    // Small and always pre-posted by the worker; a blocking send returns at once (eager protocol)
    // for up to a few hundred chunks and otherwise waits only for the worker's next poll.
    const std::vector<std::uint64_t> words = encode_assign(reply);
    world_.send(source, kTagAssign, words.data(), static_cast<int>(words.size()));
  }
  if ((header.flags & ReportHeader::kFinal) != 0) {
    --active_workers_;
  }
  writer_.push(source, std::move(bytes));
}

void Master::print_progress(double now, bool last) {
  if (options_.progress_seconds <= 0 || (!last && now - last_progress_ < options_.progress_seconds)) {
    return;
  }
  last_progress_ = now;
  const double elapsed = now - t0_;
  const std::uint64_t done = writer_.tasks_done() + writer_.tasks_failed();
  const TaskIndex n = spec_.params.size();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(n - done) / rate : 0.0;
  fmt::print(stderr, "taskfarm: {}/{} tasks ({:.1f}%), {:.0f} tasks/s, {} failed, elapsed {:.1f} s{}\n", done, n,
             100.0 * static_cast<double>(done) / static_cast<double>(n), rate, writer_.tasks_failed(), elapsed,
             last ? "" : fmt::format(", ETA {:.0f} s", eta));
  std::fflush(stderr);
}

FarmResult Master::run(RankStats& local_stats) {
  last_progress_ = now_seconds();
  std::thread local;
  if (local_compute_) {
    local = std::thread([&] { compute_locally(local_stats); });
  } else {
    local_done_.store(true);
  }
  const double cpu_before = thread_cpu_seconds();
  IdleBackoff backoff;
  std::vector<std::byte> buffer;
  try {
    while (active_workers_ > 0 || !local_done_.load(std::memory_order_acquire)) {
      if (local_failed_.load(std::memory_order_acquire)) {
        std::rethrow_exception(local_error_);
      }
      if (writer_.failed()) {
        writer_.finish();  // rethrows the writer's error
      }
      if (auto status = world_.iprobe(boost::mpi::any_source, kTagReport)) {
        const int count = status->count<char>().value_or(0);
        buffer.resize(static_cast<std::size_t>(count));
        world_.recv(status->source(), kTagReport, reinterpret_cast<char*>(buffer.data()), count);
        serve(status->source(), std::move(buffer));
        buffer = {};
        backoff.reset();
        continue;
      }
      print_progress(now_seconds(), false);
      backoff.idle();
    }
  } catch (...) {
    if (local.joinable()) {
      local.detach();  // the caller aborts the job; a blocked compute thread must not hold it up
    }
    throw;
  }
  const double master_cpu = thread_cpu_seconds() - cpu_before;
  if (local.joinable()) {
    local.join();
  }
  if (local_failed_.load()) {
    std::rethrow_exception(local_error_);
  }
  writer_.finish();
  print_progress(now_seconds(), true);

  FarmResult result;
  result.done = writer_.tasks_done();
  result.failed = writer_.tasks_failed();
  result.wall_seconds = now_seconds() - t0_;
  result.master_cpu_seconds = master_cpu;
  file_.set_attribute("writer_cpu_seconds", writer_.cpu_seconds());
  return result;
}

}  // namespace taskfarm::farm
