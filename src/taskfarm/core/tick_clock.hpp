#pragma once

#include <cstdint>

#include "taskfarm/core/clock.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace taskfarm {

/// @brief The cheapest monotonic tick counter there is, for timing every task of a chunk: the CPU's
/// time-stamp counter where it ticks at a constant rate on every core (x86 "constant_tsc" and
/// "nonstop_tsc"; about 19 ns a read in our 2-core VM against 36 ns for steady_clock), otherwise
/// steady_clock's nanoseconds. Ticks are not seconds: TickCalibration converts them.
class TickClock {
 public:
  /// @brief True when ticks come from the time-stamp counter (decided once, from /proc/cpuinfo).
  static bool uses_tsc() noexcept { return tsc_; }
  /// @brief Seconds per tick as measured once at program start (2 ms against steady_clock; exact
  /// for the steady_clock fallback).
  static double nominal_seconds_per_tick() noexcept { return nominal_; }

  [[nodiscard]] static std::uint64_t now() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    if (tsc_) {
      return __rdtsc();
    }
#endif
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }

 private:
  static const bool tsc_;
  static const double nominal_;
};

/// @brief Seconds per tick, measured against steady_clock from a common origin: the longer the
/// run, the better the estimate (two clock reads of jitter over the whole span). Until kMinSpan
/// has passed it is the nominal rate measured at program start.
class TickCalibration {
 public:
  TickCalibration() noexcept : seconds0_(now_seconds()), ticks0_(TickClock::now()) {}

  /// @brief Re-measures at (now_seconds(), TickClock::now()) = (`seconds`, `ticks`).
  void update(double seconds, std::uint64_t ticks) noexcept {
    if (ticks > ticks0_ && seconds - seconds0_ >= kMinSpan) {
      seconds_per_tick_ = (seconds - seconds0_) / static_cast<double>(ticks - ticks0_);
    }
  }
  [[nodiscard]] double seconds_per_tick() const noexcept { return seconds_per_tick_; }

  static constexpr double kMinSpan = 1e-3;  ///< 100 ns of read jitter over 1 ms: 1e-4 relative

 private:
  double seconds0_;
  std::uint64_t ticks0_;
  double seconds_per_tick_ = TickClock::nominal_seconds_per_tick();
};

}  // namespace taskfarm
