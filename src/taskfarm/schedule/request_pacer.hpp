#pragma once

#include <cstdint>

#include "taskfarm/core/task_range.hpp"

namespace taskfarm::schedule {

/// @brief How often ranks look at the network and hand results over. The farm's ranks and the
/// simulator's model of them use these same values.
namespace cadence {
inline constexpr double kPieceSeconds = 0.25;        ///< a worker looks at the network at least this often
inline constexpr double kQueuedPieceSeconds = 0.002;  ///< ... and this often while it holds (or asked for)
                                                      ///< chunks beyond the one it computes
inline constexpr double kResultSeconds = 1.0;        ///< a worker sends its results at least this often
inline constexpr double kLocalPushSeconds = 0.2;     ///< rank 0's compute thread hands results over this often
inline constexpr std::uint32_t kMaxWant = 4096;      ///< chunks per request (bounds the reply buffer)
}  // namespace cadence

/// @brief When a worker asks for more chunks, and for how many.
enum class PrefetchMode {
  none,       ///< only once its queue is empty, one chunk (the simulator's what-if)
  fixed,      ///< `prefetch = d`: keeps d chunks requested beyond the one it computes
  automatic,  ///< `prefetch = "auto"`: just in time, from measured round trips and task times
};

/// @brief A worker's request rule (farm/worker.cpp runs it; the simulator runs the same object).
/// Automatic prefetch times its first task, then asks when its queued tasks fall below two round
/// trips + 50 us worth (moving averages of what it measured), for as many chunks as cover that
/// horizon: just in time, so that decreasing-chunk policies see the true remaining work.
class RequestPacer {
 public:
  RequestPacer(PrefetchMode mode, std::uint32_t depth) : mode_(mode), depth_(depth) {}

  /// @brief Chunks the first request asks for.
  [[nodiscard]] std::uint32_t first_want() const noexcept { return mode_ == PrefetchMode::fixed ? depth_ + 1 : 1; }
  /// @brief Chunks to ask for when the queue ran dry and no request is out.
  [[nodiscard]] std::uint32_t empty_want() const;

  /// @brief Before a piece of the front chunk: `cursor` its next task, `stop` where the piece would
  /// end, `left` tasks queued in all (front chunk included), `beyond` chunks queued behind it.
  /// Called only while no request is out and more work may come.
  struct Step {
    std::uint32_t ask = 0;  ///< chunks to ask for now (0: none)
    TaskIndex stop = 0;     ///< where the piece ends
  };
  [[nodiscard]] Step before_piece(TaskIndex cursor, TaskIndex stop, TaskIndex left, std::size_t beyond) const;
  /// @brief How long a piece may run before the worker looks at the network again: briefly while it
  /// holds chunks queued behind this one, or asked for some (rank 0 may ask one back: the answer
  /// must not wait for a long piece); a piece's length is fixed when it starts.
  [[nodiscard]] static double piece_seconds(std::size_t beyond, bool asked) noexcept {
    return beyond > 0 || asked ? cadence::kQueuedPieceSeconds : cadence::kPieceSeconds;
  }

  /// @brief A reply came `round_trip` seconds after its request.
  void replied(double round_trip);
  /// @brief A chunk of `tasks` tasks arrived.
  void received(TaskIndex tasks);
  /// @brief A piece of `tasks` (> 0) tasks took `seconds`.
  void computed(double seconds, TaskIndex tasks);

 private:
  [[nodiscard]] std::uint32_t auto_want() const;
  [[nodiscard]] double horizon() const noexcept;

  PrefetchMode mode_;
  std::uint32_t depth_;
  double rtt_ = -1.0;         // seconds from request to reply (EWMA)
  double task_time_ = -1.0;   // seconds per task (EWMA)
  double chunk_tasks_ = -1.0;  // tasks per chunk received (EWMA)
};

}  // namespace taskfarm::schedule
