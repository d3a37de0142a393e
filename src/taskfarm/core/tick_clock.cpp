#include "taskfarm/core/tick_clock.hpp"

#include <fstream>
#include <string>

namespace taskfarm {

namespace {

/// Both flags on the first "flags" line of /proc/cpuinfo: the counter ticks at one rate on every
/// core and through sleep states, so ticks on one core measure time (Linux's own tsc clocksource
/// asks for the same).
bool constant_tsc() {
#if defined(__x86_64__) || defined(__i386__)
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      line += ' ';
      return line.find(" constant_tsc ") != std::string::npos && line.find(" nonstop_tsc ") != std::string::npos;
    }
  }
#endif
  return false;
}

/// Seconds per tick: 2 ms of the time-stamp counter against steady_clock, or steady_clock's period.
double measure_seconds_per_tick(bool tsc) {
  using period = std::chrono::steady_clock::period;
  if (!tsc) {
    return static_cast<double>(period::num) / static_cast<double>(period::den);
  }
#if defined(__x86_64__) || defined(__i386__)
  const double s0 = now_seconds();
  const std::uint64_t t0 = __rdtsc();
  double s1 = s0;
  while (s1 - s0 < 2e-3) {
    s1 = now_seconds();
  }
  const std::uint64_t t1 = __rdtsc();
  return t1 > t0 ? (s1 - s0) / static_cast<double>(t1 - t0) : 1e-9;
#else
  return static_cast<double>(period::num) / static_cast<double>(period::den);
#endif
}

}  // namespace

const bool TickClock::tsc_ = constant_tsc();
const double TickClock::nominal_ = measure_seconds_per_tick(TickClock::tsc_);  // initialised after tsc_

}  // namespace taskfarm
