#include "taskfarm/farm/chunk_runner.hpp"

#include <cstring>
#include <exception>

#include "taskfarm/core/clock.hpp"
#include "taskfarm/io/results_file.hpp"

namespace taskfarm::farm {

ChunkRunner::ChunkRunner(app::Kernel& kernel, std::vector<std::size_t> field_bytes, const std::atomic<int>* stop)
    : kernel_(kernel), field_bytes_(std::move(field_bytes)), slots_(field_bytes_.size()), stop_(stop) {}

TaskIndex ChunkRunner::run(TaskRange part, ReportBuilder& report, double deadline) {
  PieceSlots piece = report.add_piece(part);
  const std::size_t nf = field_bytes_.size();
  double t = now_seconds();  // one clock read per task: each task ends where the next begins
  TaskIndex i = part.begin;
  while (i < part.end) {
    const TaskIndex k = i - part.begin;
    for (std::size_t f = 0; f < nf; ++f) {
      slots_[f] = piece.fields[f] + k * field_bytes_[f];
    }
    std::uint8_t state = static_cast<std::uint8_t>(io::TaskState::done);
    try {
      kernel_.compute(i, app::TaskOutput(slots_.data()));
    } catch (const std::exception& e) {
      state = static_cast<std::uint8_t>(io::TaskState::failed);
      report.add_failure(i, 1, e.what());
    } catch (...) {
      state = static_cast<std::uint8_t>(io::TaskState::failed);
      report.add_failure(i, 1, "unknown exception");
    }
    if (state != static_cast<std::uint8_t>(io::TaskState::done)) {
      ++failures_;
      for (std::size_t f = 0; f < nf; ++f) {  // a failed task's results are zeros, whatever it wrote
        std::memset(slots_[f], 0, field_bytes_[f]);
      }
    }
    const double t_end = now_seconds();
    piece.seconds[k] = t_end - t;
    piece.state[k] = state;
    stats_.add(t_end - t);
    t = t_end;
    ++i;
    if (t >= deadline || (stop_ != nullptr && stop_->load(std::memory_order_relaxed) != 0)) {
      break;
    }
  }
  report.truncate_last_piece(i);
  return i;
}

}  // namespace taskfarm::farm
