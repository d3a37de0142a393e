#include "taskfarm/farm/worker.hpp"

#include <sys/resource.h>

#include <cmath>
#include <deque>
#include <list>
#include <utility>

#include <boost/mpi/nonblocking.hpp>
#include <boost/mpi/request.hpp>

#include "taskfarm/core/clock.hpp"
#include "taskfarm/farm/chunk_runner.hpp"
#include "taskfarm/farm/idle_backoff.hpp"
#include "taskfarm/farm/protocol.hpp"
#include "taskfarm/farm/stop_signal.hpp"

namespace taskfarm::farm {

namespace {

constexpr std::uint32_t kMaxWant = 4096;              // chunks per request (bounds the reply buffer)
constexpr std::size_t kPieceBytes = std::size_t{1} << 20;  // results per piece before we look at the network
constexpr std::size_t kSendBytes = std::size_t{4} << 20;   // send results once this much is pending
constexpr double kPieceSeconds = 0.25;                // look at the network at least this often
constexpr double kResultSeconds = 1.0;                // and send pending results at least this often
// Results sent but not yet taken by rank 0: beyond this the worker waits before computing more.
// Rank 0's writer pushes back when the disk is slower than the ranks compute; without a bound a
// worker's unsent reports grow with N (measured: 25 MiB at 10^6 tasks, 300 MiB at 10^8).
constexpr std::size_t kMaxInFlightBytes = std::size_t{16} << 20;

double ewma(double old, double sample, double alpha) { return old < 0 ? sample : old + alpha * (sample - old); }

}  // namespace

Worker::Worker(const boost::mpi::communicator& world, std::vector<app::Kernel*> kernels, const job::TaskOrder& order,
               unsigned prefetch, double t0, int scheduler, const StartLimit* limit)
    : world_(world),
      kernels_(std::move(kernels)),
      limit_(limit),
      order_(order),
      prefetch_(prefetch),
      t0_(t0),
      scheduler_(scheduler) {}

RankStats Worker::run() {
  const std::vector<std::size_t> widths = field_bytes(*kernels_.front());
  std::size_t task_bytes = sizeof(double) + 1;
  for (auto w : widths) {
    task_bytes += w;
  }
  const TaskIndex piece_tasks = std::max<std::size_t>(1, kPieceBytes / task_bytes);
  ReportBuilder report(widths);
  ChunkRunner runner(kernels_, widths, order_, &stop_flag(), limit_);
  RankStats stats;

  std::deque<Assignment> queue;
  TaskIndex cursor = 0;      // next task of queue.front()
  TaskIndex rest_tasks = 0;  // tasks in queue[1..]
  bool in_flight = false;
  bool no_more_work = false;
  double sent_at = 0.0;
  double last_send = now_seconds();
  double rtt = -1.0;        // seconds from request to reply (EWMA)
  double task_time = -1.0;  // seconds per task (EWMA)
  double chunk_tasks = -1.0;
  double chunk_started = 0.0;

  std::vector<std::uint64_t> reply(assign_words(kMaxWant));
  boost::mpi::request reply_request;
  std::list<std::pair<boost::mpi::request, std::vector<std::byte>>> sends;
  std::size_t in_flight_bytes = 0;

  ReportBuilder request_only({});
  double last_results = now_seconds();
  auto post = [&](int dest, std::vector<std::byte> bytes) {
    auto req = world_.isend(dest, kTagReport, reinterpret_cast<const char*>(bytes.data()), static_cast<int>(bytes.size()));
    in_flight_bytes += bytes.size();
    sends.emplace_back(req, std::move(bytes));  // the vector's heap block does not move
  };
  // Results (and the final flag) go to rank 0; a request goes to our scheduler, riding on the
  // results when that is rank 0 too.
  auto send = [&](std::uint32_t want, std::uint32_t flags) {
    if (want > 0) {
      reply_request = world_.irecv(scheduler_, kTagAssign, reply.data(), static_cast<int>(reply.size()));
      in_flight = true;
      sent_at = now_seconds();
    }
    if (scheduler_ == 0) {
      post(0, report.take(want, flags));
    } else {
      // Results to rank 0 in batches (enough bytes, a second, or when we wait or leave), so that at
      // thousands of ranks rank 0 handles few messages per member; requests go to the group master.
      const double now = now_seconds();
      if (flags != 0 || want == 0 || report.size_bytes() >= kSendBytes || now - last_results >= kResultSeconds) {
        if (!report.empty() || flags != 0) {
          post(0, report.take(0, flags));
        }
        last_results = now;
      }
      if (want > 0) {
        post(scheduler_, request_only.take(want, 0));
      }
    }
    last_send = now_seconds();
  };
  auto reap_sends = [&] {
    for (auto it = sends.begin(); it != sends.end();) {
      if (it->first.test()) {
        in_flight_bytes -= it->second.size();
        report.recycle(std::move(it->second));
        it = sends.erase(it);
      } else {
        ++it;
      }
    }
  };
  auto poll_reply = [&]() -> bool {
    if (!in_flight) {
      return false;
    }
    const auto status = reply_request.test();
    if (!status) {
      return false;
    }
    in_flight = false;
    rtt = ewma(rtt, now_seconds() - sent_at, 0.3);
    const auto words = status->count<std::uint64_t>().value_or(0);
    const AssignMessage msg = decode_assign({reply.data(), static_cast<std::size_t>(words)});
    no_more_work = no_more_work || (msg.flags & AssignMessage::kNoMoreWork) != 0;
    for (const Assignment& a : msg.chunks) {
      if (queue.empty()) {
        cursor = a.range.begin;
      } else {
        rest_tasks += a.range.size();
      }
      queue.push_back(a);
      chunk_tasks = ewma(chunk_tasks, static_cast<double>(a.range.size()), 0.3);
    }
    return true;
  };
  auto auto_want = [&]() -> std::uint32_t {
    // Ask for enough chunks to cover the round-trip horizon (chunks of 1 need many per request).
    const double horizon = 2.0 * std::max(rtt, 0.0) + 50e-6;
    const double chunk_time = std::max(chunk_tasks, 1.0) * std::max(task_time, 1e-9);
    return static_cast<std::uint32_t>(std::clamp(std::ceil(horizon / chunk_time), 1.0, double{kMaxWant}));
  };

  // The master's stop order (a signal reached it, or fail_fast); our own signal counts as one too.
  int stop_message = 0;
  boost::mpi::request stop_request = world_.irecv(0, kTagStop, stop_message);
  bool stopping = false;
  bool stop_received = false;  // a completed request must not be tested (or cancelled) again
  auto hear_stop = [&] {
    if (!stop_received && stop_request.test()) {
      stop_received = true;
      request_stop(stop_message != 0 ? stop_message : kStopPeer);  // the master's reason: tasks that wait hear it
    }
  };
  auto check_stop = [&] {
    hear_stop();
    stopping = stopping || stop_received || stop_requested() != 0;
    return stopping;
  };
  // A task that waits (a command) asks for the order while it runs, on this thread.
  set_stop_poll(hear_stop);
  struct Unset {
    ~Unset() { set_stop_poll({}); }
  } unset;

  // Stopping mid-chunk: the computed part is reported as a chunk of its own; the rest stays pending
  // in the file and is computed on resume.
  auto add_partial_chunk = [&](const Assignment& a, double t_end) {
    if (cursor > a.range.begin) {
      const RunningMoments& s = runner.stats();
      report.add_chunk({{a.range.begin, cursor}, a.assigned, chunk_started - t0_, t_end - t0_, t_end - chunk_started,
                        s.mean, s.variance()});
      ++stats.chunks;
    }
  };

  send(prefetch_ > 0 ? prefetch_ + 1 : 1, 0);
  IdleBackoff backoff;
  for (;;) {
    poll_reply();
    if (!sends.empty()) {
      reap_sends();
    }
    if (check_stop()) {
      if (!queue.empty() && cursor > queue.front().range.begin) {
        add_partial_chunk(queue.front(), now_seconds());
      }
      break;
    }
    if (queue.empty()) {
      if (no_more_work && !in_flight) {
        break;
      }
      if (!in_flight) {
        send(prefetch_ > 0 ? prefetch_ + 1 : auto_want(), 0);
      }
      if (!report.empty()) {
        send(0, 0);  // never wait holding results: the master may be waiting for exactly these
      }
      while (!poll_reply() && !check_stop()) {
        reap_sends();
        backoff.idle();
      }
      backoff.reset();
      continue;
    }

    const Assignment& a = queue.front();
    if (cursor == a.range.begin) {
      chunk_started = now_seconds();
      runner.reset_stats();
    }
    TaskIndex stop = std::min(a.range.end, cursor + piece_tasks);
    if (!in_flight && !no_more_work) {
      const TaskIndex left = (a.range.end - cursor) + rest_tasks;
      if (prefetch_ > 0) {
        const auto beyond = static_cast<unsigned>(queue.size() - 1);
        if (beyond < prefetch_) {
          send(prefetch_ - beyond, 0);
        }
      } else if (task_time < 0) {
        stop = cursor + 1;  // time one task before deciding when to ask
      } else {
        const double horizon = 2.0 * std::max(rtt, 0.0) + 50e-6;
        const auto trigger = static_cast<TaskIndex>(std::ceil(horizon / std::max(task_time, 1e-9)));
        if (left <= trigger + 1) {
          send(auto_want(), 0);
        } else {
          stop = std::min(stop, cursor + (left - trigger - 1));
        }
      }
    }

    const double t_begin = now_seconds();
    const std::uint64_t failures = runner.failures();
    const TaskIndex reached = runner.run({cursor, stop}, report, t_begin + kPieceSeconds);
    const double t_end = now_seconds();
    const TaskIndex done = reached - cursor;
    stats.tasks += done;
    stats.busy_seconds += t_end - t_begin;
    if (done > 0) {  // none: the job is stopping (a task interrupted, or one that could not end in time)
      task_time = ewma(task_time, (t_end - t_begin) / static_cast<double>(done), 0.2);
    }
    cursor = reached;

    if (cursor < a.range.end && check_stop()) {
      add_partial_chunk(a, t_end);
      break;
    }
    if (cursor == a.range.end) {
      const RunningMoments& s = runner.stats();
      report.add_chunk({a.range, a.assigned, chunk_started - t0_, t_end - t0_, t_end - chunk_started, s.mean,
                        s.variance()});
      ++stats.chunks;
      queue.pop_front();
      if (!queue.empty()) {
        cursor = queue.front().range.begin;
        rest_tasks -= queue.front().range.size();
      }
    }
    // A failure goes out at once: its retry (or fail_fast's stop) must not wait for our next task.
    if (!report.empty() &&
        (runner.failures() != failures || report.size_bytes() >= kSendBytes || t_end - last_send >= kResultSeconds)) {
      send(0, 0);
    }
    if (in_flight_bytes > kMaxInFlightBytes) {  // rank 0 is behind: wait for it, memory stays bounded
      reap_sends();
      while (in_flight_bytes > kMaxInFlightBytes && !check_stop()) {
        poll_reply();
        backoff.idle();
        reap_sends();
      }
      backoff.reset();
    }
  }
  // A stop of our own (our deadline, a signal that reached this rank only) stops the whole job:
  // rank 0 must not wait for the rest of our chunks.
  send(0, ReportHeader::kFinal | (stopping && !stop_received ? ReportHeader::kStopped : 0));
  for (auto& s : sends) {
    s.first.wait();
  }
  // Receives that will never be matched now: a reply the master will not send after our final
  // report, or a stop order that never came.
  if (in_flight) {
    reply_request.cancel();
    reply_request.wait();
  }
  if (!stop_received && !stop_request.test()) {
    stop_request.cancel();
    stop_request.wait();
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  stats.cpu_seconds = process_cpu_seconds();
  stats.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  return stats;
}

}  // namespace taskfarm::farm
