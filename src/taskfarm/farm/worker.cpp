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
#include "taskfarm/schedule/request_pacer.hpp"

namespace taskfarm::farm {

namespace {

using schedule::cadence::kMaxWant;
using schedule::cadence::kResultSeconds;
constexpr std::size_t kPieceBytes = std::size_t{1} << 20;  // results per piece before we look at the network
constexpr std::size_t kSendBytes = std::size_t{1} << 20;   // send results once this much is pending
// Results sent but not yet taken by rank 0: beyond this the worker waits before computing more.
// Rank 0's writer pushes back when the disk is slower than the ranks compute; without a bound a
// worker's unsent reports grow with N (measured: 25 MiB at 10^6 tasks, 300 MiB at 10^8; with 16 MiB
// 64 MiB, with 2 MiB and 1 MiB messages 28 MiB, at no measurable cost in tiny tasks per second).
constexpr std::size_t kMaxInFlightBytes = std::size_t{2} << 20;

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
  schedule::RequestPacer pacer(prefetch_ > 0 ? schedule::PrefetchMode::fixed : schedule::PrefetchMode::automatic,
                               prefetch_);
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
    pacer.replied(now_seconds() - sent_at);
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
      pacer.received(a.range.size());
    }
    return true;
  };
  // Rank 0 asks a queued chunk back (nothing is left to hand out and a rank is idle): given back
  // unless it is the one we compute; the answer leaves at once.
  std::uint64_t reclaim_words[kReclaimWords] = {0, 0};
  boost::mpi::request reclaim_request = world_.irecv(0, kTagReclaim, reclaim_words, kReclaimWords);
  auto poll_reclaim = [&] {
    if (!reclaim_request.test()) {
      return;
    }
    const TaskRange asked{reclaim_words[0], reclaim_words[1]};
    bool given = false;
    for (std::size_t i = 1; i < queue.size(); ++i) {  // queue[0] is started (or about to be)
      if (queue[i].range == asked) {
        rest_tasks -= asked.size();
        queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(i));
        given = true;
        break;
      }
    }
    report.answer_reclaim(asked, given);
    send(0, 0);
    reclaim_request = world_.irecv(0, kTagReclaim, reclaim_words, kReclaimWords);
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

  send(pacer.first_want(), 0);
  IdleBackoff backoff;
  for (;;) {
    poll_reply();
    poll_reclaim();
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
        send(pacer.empty_want(), 0);
      }
      if (!report.empty()) {
        send(0, 0);  // never wait holding results: the master may be waiting for exactly these
      }
      while (!poll_reply() && !check_stop()) {
        reap_sends();
        poll_reclaim();  // a chunk we just finished may be asked back: rank 0 waits for the answer
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
      const auto step = pacer.before_piece(cursor, stop, (a.range.end - cursor) + rest_tasks, queue.size() - 1);
      stop = step.stop;
      if (step.ask > 0) {
        send(step.ask, 0);
      }
    }

    const double t_begin = now_seconds();
    const std::uint64_t failures = runner.failures();
    const TaskIndex reached =
        runner.run({cursor, stop}, report, t_begin + schedule::RequestPacer::piece_seconds(queue.size() - 1, in_flight));
    const double t_end = now_seconds();
    const TaskIndex done = reached - cursor;
    stats.tasks += done;
    stats.busy_seconds += t_end - t_begin;
    if (done > 0) {  // none: the job is stopping (a task interrupted, or one that could not end in time)
      pacer.computed(t_end - t_begin, done);
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
  if (!reclaim_request.test()) {
    reclaim_request.cancel();
    reclaim_request.wait();
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  stats.cpu_seconds = process_cpu_seconds();
  stats.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  return stats;
}

}  // namespace taskfarm::farm
