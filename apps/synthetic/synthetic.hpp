#pragma once

#include <taskfarm/taskfarm.hpp>

namespace taskfarm::apps {

/// @brief `synthetic`: a task busy-spins for its drawn cost; result `seconds` (that cost).
[[nodiscard]] App synthetic();

}  // namespace taskfarm::apps
