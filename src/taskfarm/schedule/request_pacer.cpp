#include "taskfarm/schedule/request_pacer.hpp"

#include <algorithm>
#include <cmath>

namespace taskfarm::schedule {

namespace {

constexpr double kHorizonSlack = 50e-6;  // seconds added to two round trips
constexpr double kRttAlpha = 0.3;
constexpr double kTaskTimeAlpha = 0.2;
constexpr double kChunkTasksAlpha = 0.3;

double ewma(double old, double sample, double alpha) { return old < 0 ? sample : old + alpha * (sample - old); }

}  // namespace

double RequestPacer::horizon() const noexcept { return 2.0 * std::max(rtt_, 0.0) + kHorizonSlack; }

std::uint32_t RequestPacer::auto_want() const {
  // Enough chunks to cover the round-trip horizon (chunks of 1 need many per request).
  const double chunk_time = std::max(chunk_tasks_, 1.0) * std::max(task_time_, 1e-9);
  return static_cast<std::uint32_t>(std::clamp(std::ceil(horizon() / chunk_time), 1.0, double{cadence::kMaxWant}));
}

std::uint32_t RequestPacer::empty_want() const {
  switch (mode_) {
    case PrefetchMode::fixed:
      return depth_ + 1;
    case PrefetchMode::automatic:
      return auto_want();
    case PrefetchMode::none:
      break;
  }
  return 1;
}

RequestPacer::Step RequestPacer::before_piece(TaskIndex cursor, TaskIndex stop, TaskIndex left,
                                              std::size_t beyond) const {
  Step step{0, stop};
  if (mode_ == PrefetchMode::fixed) {
    if (beyond < depth_) {
      step.ask = depth_ - static_cast<std::uint32_t>(beyond);
    }
  } else if (mode_ == PrefetchMode::automatic) {
    if (task_time_ < 0) {
      step.stop = std::min(stop, cursor + 1);  // time one task before deciding when to ask
    } else {
      const auto trigger =
          static_cast<TaskIndex>(std::min(std::ceil(horizon() / std::max(task_time_, 1e-9)), 1e18));
      if (left <= trigger + 1) {
        step.ask = auto_want();
      } else {
        step.stop = std::min(stop, cursor + (left - trigger - 1));
      }
    }
  }
  return step;
}

void RequestPacer::replied(double round_trip) { rtt_ = ewma(rtt_, round_trip, kRttAlpha); }

void RequestPacer::received(TaskIndex tasks) {
  chunk_tasks_ = ewma(chunk_tasks_, static_cast<double>(tasks), kChunkTasksAlpha);
}

void RequestPacer::computed(double seconds, TaskIndex tasks) {
  task_time_ = ewma(task_time_, seconds / static_cast<double>(tasks), kTaskTimeAlpha);
}

}  // namespace taskfarm::schedule
