#pragma once

#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace taskfarm::farm {

/// @brief Sleeps between polls with a growing interval, so an idle rank costs almost no CPU
/// (a busy-polling master steals an oversubscribed worker's core) while a busy one stays responsive.
class IdleBackoff {
 public:
  IdleBackoff() {
    // Linux rounds sleeps up by the timer slack (50 us by default); 1 ns makes 2 us sleeps real.
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  }
  /// @param brisk the caller's core has nothing else to do and an answer is due soon (rank 0 at the
  /// end of a run): sleeps of at most kBriskMicros, so the last messages wait ~50 us, not ~500.
  void idle(bool brisk = false) {
    std::this_thread::sleep_for(std::chrono::microseconds(std::min(wait_us_, brisk ? kBriskMicros : kMaxMicros)));
    wait_us_ = std::min(wait_us_ * 2, kMaxMicros);
  }
  void reset() noexcept { wait_us_ = kMinMicros; }

 private:
  static constexpr long kMinMicros = 2;
  static constexpr long kMaxMicros = 500;
  static constexpr long kBriskMicros = 50;
  long wait_us_ = kMinMicros;
};

}  // namespace taskfarm::farm
