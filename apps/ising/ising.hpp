#pragma once

#include <taskfarm/taskfarm.hpp>

namespace taskfarm::apps {

/// @brief `ising`: 2D Ising Monte Carlo, one task per (T, L, seed, ...); observables with error bars.
[[nodiscard]] App ising();

}  // namespace taskfarm::apps
