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

}  // namespace

const bool TickClock::tsc_ = constant_tsc();

namespace {

double measure_seconds_per_tick() {
  if (!TickClock::uses_tsc()) {
    using period = std::chrono::steady_clock::period;
    return static_cast<double>(period::num) / static_cast<double>(period::den);
  }
  const double s0 = now_seconds();
  const std::uint64_t t0 = TickClock::now();
  double s1 = s0;
  while (s1 - s0 < 2e-3) {
    s1 = now_seconds();
  }
  const std::uint64_t t1 = TickClock::now();
  return t1 > t0 ? (s1 - s0) / static_cast<double>(t1 - t0) : 1e-9;
}

const double nominal = measure_seconds_per_tick();  // after tsc_: same translation unit, later

}  // namespace

bool TickClock::uses_tsc() noexcept { return tsc_; }

double TickClock::nominal_seconds_per_tick() noexcept { return nominal; }

}  // namespace taskfarm
