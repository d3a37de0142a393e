#pragma once

#include "taskfarm/app/registry.hpp"

namespace taskfarm::apps {

/// @brief Registers `synthetic`: a task busy-spins for its drawn cost; result `seconds` (that cost).
void register_synthetic(app::Registry& registry);

}  // namespace taskfarm::apps
