#include "taskfarm/farm/chunk_runner.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "taskfarm/core/clock.hpp"
#include "taskfarm/core/error.hpp"
#include "taskfarm/core/tick_clock.hpp"
#include "taskfarm/core/utf8.hpp"
#include "taskfarm/farm/stop_signal.hpp"
#include "taskfarm/io/results_file.hpp"

namespace taskfarm::farm {

ChunkRunner::ChunkRunner(std::vector<app::Kernel*> kernels, std::vector<std::size_t> field_bytes,
                         const job::TaskOrder& order, const std::atomic<int>* stop, const StartLimit* limit)
    : kernels_(std::move(kernels)),
      order_(order),
      field_bytes_(std::move(field_bytes)),
      slots_(field_bytes_.size()),
      stop_(stop),
      limit_(limit != nullptr && limit->active() ? limit : nullptr) {
  if (kernels_.empty()) {
    throw Error("ChunkRunner: no kernel");
  }
}

ChunkRunner::Outcome ChunkRunner::compute(app::Kernel& kernel, TaskIndex position, std::vector<std::byte*>& slots,
                                          std::string& message) {
  Outcome outcome = Outcome::done;
  try {
    kernel.compute(order_.task(Position{position}), app::TaskOutput(slots.data()));
  } catch (const Interrupted& e) {
    if (stopping()) {
      return Outcome::interrupted;  // the job's own stop cut it short: not a failure, stays pending
    }
    outcome = Outcome::failed;
    message = valid_utf8(std::string("interrupted with no stop requested: ") + e.what());
  } catch (const TaskFailed& e) {
    outcome = Outcome::kept_failed;
    message = valid_utf8(e.what());  // /failures and the live status are text every reader decodes
  } catch (const std::exception& e) {
    outcome = Outcome::failed;
    message = valid_utf8(e.what());
  } catch (...) {
    outcome = Outcome::failed;
    message = "unknown exception";
  }
  if (outcome == Outcome::failed) {
    for (std::size_t f = 0; f < slots.size(); ++f) {  // a failed task's results are zeros, whatever it wrote
      std::memset(slots[f], 0, field_bytes_[f]);
    }
  }
  return outcome;
}

bool ChunkRunner::refused_by_limit(TaskIndex position) {
  if (limit_ == nullptr || limit_->allows(order_.task(Position{position}), now_seconds())) {
    return false;
  }
  request_stop(kStopDeadline);
  return true;
}

TaskIndex ChunkRunner::run(TaskRange part, ReportBuilder& report, double deadline) {
  if (kernels_.size() > 1) {
    return run_lanes(part, report, deadline);
  }
  PieceSlots piece = report.add_piece(part);
  const std::size_t nf = field_bytes_.size();
  // Each task is timed in ticks (one TickClock read per task: each task ends where the next begins)
  // and the piece is converted to seconds at the end; the deadline is a tick count too.
  const double spt = calibration_.seconds_per_tick();
  const std::uint64_t start = TickClock::now();
  const double ticks_left = std::clamp((deadline - now_seconds()) / spt, 0.0, 1e18);
  const std::uint64_t horizon = start + static_cast<std::uint64_t>(ticks_left);
  std::uint64_t c = start;
  std::string message;
  TaskIndex i = part.begin;
  while (i < part.end) {
    if (limit_ != nullptr && refused_by_limit(i)) {
      break;
    }
    const TaskIndex k = i - part.begin;
    for (std::size_t f = 0; f < nf; ++f) {
      slots_[f] = piece.fields[f] + k * field_bytes_[f];
    }
    const Outcome outcome = compute(*kernels_[0], i, slots_, message);
    if (outcome == Outcome::interrupted) {
      break;
    }
    std::uint8_t state = static_cast<std::uint8_t>(io::TaskState::done);
    if (outcome != Outcome::done) {
      state = static_cast<std::uint8_t>(io::TaskState::failed);
      report.add_failure(Position{i}, 1, message);
      ++failures_;
    }
    const std::uint64_t c_end = TickClock::now();
    piece.seconds[k] = static_cast<double>(c_end > c ? c_end - c : 0);  // ticks for now
    piece.state[k] = state;
    c = c_end;
    ++i;
    if (c >= horizon || stopping()) {
      break;
    }
  }
  // Ticks first, then seconds: a stall between the reads can only make the rate look slower (safe),
  // never make task times too short (argument evaluation order is the compiler's choice).
  const auto ticks = TickClock::now();
  calibration_.update(now_seconds(), ticks);
  const TaskIndex n = i - part.begin;
  for (TaskIndex k = 0; k < n; ++k) {
    piece.seconds[k] *= spt;
  }
  add_stats(piece.seconds, n);  // before the truncation, which moves the piece's arrays
  report.truncate_last_piece(i);
  return i;
}

TaskIndex ChunkRunner::run_lanes(TaskRange part, ReportBuilder& report, double deadline) {
  PieceSlots piece = report.add_piece(part);
  const std::size_t nf = field_bytes_.size();
  std::atomic<TaskIndex> next{part.begin};
  std::atomic<bool> halt{false};
  std::mutex mutex;  // guards `cut` and `failed`
  TaskIndex cut = part.end;  // the first position a lane left unfinished (interrupted, or refused)
  std::vector<std::pair<TaskIndex, std::string>> failed;
  auto lane = [&](app::Kernel& kernel) {
    std::vector<std::byte*> slots(nf);
    std::string message;
    while (!halt.load(std::memory_order_relaxed)) {
      const TaskIndex i = next.fetch_add(1);
      if (i >= part.end) {
        return;
      }
      if (limit_ != nullptr && refused_by_limit(i)) {
        const std::lock_guard lock(mutex);
        cut = std::min(cut, i);
        halt = true;
        return;
      }
      const TaskIndex k = i - part.begin;
      for (std::size_t f = 0; f < nf; ++f) {
        slots[f] = piece.fields[f] + k * field_bytes_[f];
      }
      const double t = now_seconds();
      const Outcome outcome = compute(kernel, i, slots, message);
      const double t_end = now_seconds();
      if (outcome == Outcome::interrupted) {
        const std::lock_guard lock(mutex);
        cut = std::min(cut, i);
        halt = true;
        return;
      }
      piece.seconds[k] = t_end - t;
      piece.state[k] = static_cast<std::uint8_t>(outcome == Outcome::done ? io::TaskState::done : io::TaskState::failed);
      if (outcome != Outcome::done) {
        const std::lock_guard lock(mutex);
        failed.emplace_back(i, message);
      }
      if (t_end >= deadline || stopping()) {
        halt = true;
      }
    }
  };
  {
    std::vector<std::jthread> threads;
    for (std::size_t l = 1; l < kernels_.size(); ++l) {
      threads.emplace_back([&, l] { lane(*kernels_[l]); });
    }
    lane(*kernels_[0]);
  }  // joined: every task a lane took is finished, interrupted or refused
  // What is reported is a prefix: tasks after the first unfinished one are dropped (they run again).
  const TaskIndex end = std::min({cut, next.load(), part.end});
  std::sort(failed.begin(), failed.end());
  for (const auto& [position, message] : failed) {
    if (position < end) {
      report.add_failure(Position{position}, 1, message);
      ++failures_;
    }
  }
  add_stats(piece.seconds, end - part.begin);
  report.truncate_last_piece(end);
  return end;
}

void ChunkRunner::add_stats(const double* seconds, TaskIndex n) {
  if (n == 0) {
    return;
  }
  double sum = 0.0;
  for (TaskIndex k = 0; k < n; ++k) {
    sum += seconds[k];
  }
  // Two passes (mean, then squared deviations): exact where sums of squares would cancel.
  const double mean = sum / static_cast<double>(n);
  double m2 = 0.0;
  for (TaskIndex k = 0; k < n; ++k) {
    const double d = seconds[k] - mean;
    m2 += d * d;
  }
  stats_.merge(n, mean, m2);
}

}  // namespace taskfarm::farm
