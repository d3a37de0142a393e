#include "taskfarm/farm/chunk_runner.hpp"

#include <algorithm>
#include <cstring>
#include <exception>

#include "taskfarm/core/clock.hpp"
#include "taskfarm/core/tick_clock.hpp"
#include "taskfarm/io/results_file.hpp"

namespace taskfarm::farm {

ChunkRunner::ChunkRunner(app::Kernel& kernel, std::vector<std::size_t> field_bytes, const job::TaskOrder& order,
                         const std::atomic<int>* stop)
    : kernel_(kernel), order_(order), field_bytes_(std::move(field_bytes)), slots_(field_bytes_.size()), stop_(stop) {}

TaskIndex ChunkRunner::run(TaskRange part, ReportBuilder& report, double deadline) {
  PieceSlots piece = report.add_piece(part);
  const std::size_t nf = field_bytes_.size();
  // Each task is timed in ticks (one TickClock read per task: each task ends where the next begins)
  // and the piece is converted to seconds at the end; the deadline is a tick count too.
  const double spt = calibration_.seconds_per_tick();
  const std::uint64_t start = TickClock::now();
  const double ticks_left = std::clamp((deadline - now_seconds()) / spt, 0.0, 1e18);
  const std::uint64_t horizon = start + static_cast<std::uint64_t>(ticks_left);
  std::uint64_t c = start;
  TaskIndex i = part.begin;
  while (i < part.end) {
    const TaskIndex k = i - part.begin;
    for (std::size_t f = 0; f < nf; ++f) {
      slots_[f] = piece.fields[f] + k * field_bytes_[f];
    }
    std::uint8_t state = static_cast<std::uint8_t>(io::TaskState::done);
    try {
      kernel_.compute(order_.task(Position{i}), app::TaskOutput(slots_.data()));
    } catch (const std::exception& e) {
      state = static_cast<std::uint8_t>(io::TaskState::failed);
      report.add_failure(Position{i}, 1, e.what());
    } catch (...) {
      state = static_cast<std::uint8_t>(io::TaskState::failed);
      report.add_failure(Position{i}, 1, "unknown exception");
    }
    if (state != static_cast<std::uint8_t>(io::TaskState::done)) {
      ++failures_;
      for (std::size_t f = 0; f < nf; ++f) {  // a failed task's results are zeros, whatever it wrote
        std::memset(slots_[f], 0, field_bytes_[f]);
      }
    }
    const std::uint64_t c_end = TickClock::now();
    piece.seconds[k] = static_cast<double>(c_end > c ? c_end - c : 0);  // ticks for now
    piece.state[k] = state;
    c = c_end;
    ++i;
    if (c >= horizon || (stop_ != nullptr && stop_->load(std::memory_order_relaxed) != 0)) {
      break;
    }
  }
  // Ticks first, then seconds: a stall between the reads can only make the rate look slower (safe),
  // never make task times too short (argument evaluation order is the compiler's choice).
  const auto ticks = TickClock::now();
  calibration_.update(now_seconds(), ticks);
  to_seconds(piece.seconds, i - part.begin);  // before the truncation, which moves the piece's arrays
  report.truncate_last_piece(i);
  return i;
}

void ChunkRunner::to_seconds(double* ticks, TaskIndex n) {
  if (n == 0) {
    return;
  }
  const double spt = calibration_.seconds_per_tick();
  double sum = 0.0;
  for (TaskIndex k = 0; k < n; ++k) {
    ticks[k] *= spt;
    sum += ticks[k];
  }
  // Two passes (mean, then squared deviations): exact where sums of squares would cancel.
  const double mean = sum / static_cast<double>(n);
  double m2 = 0.0;
  for (TaskIndex k = 0; k < n; ++k) {
    const double d = ticks[k] - mean;
    m2 += d * d;
  }
  stats_.merge(n, mean, m2);
}

}  // namespace taskfarm::farm
