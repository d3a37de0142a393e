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
  void idle() {
    std::this_thread::sleep_for(std::chrono::microseconds(wait_us_));
    wait_us_ = std::min(wait_us_ * 2, kMaxMicros);
  }
  void reset() noexcept { wait_us_ = kMinMicros; }

 private:
  static constexpr long kMinMicros = 2;
  static constexpr long kMaxMicros = 500;
  long wait_us_ = kMinMicros;
};

}  // namespace taskfarm::farm
