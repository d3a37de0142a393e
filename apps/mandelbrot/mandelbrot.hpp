#pragma once

#include "taskfarm/app/registry.hpp"

namespace taskfarm::apps {

/// @brief Registers `mandelbrot`: a task is one image row; result `iterations`, shape (width,) uint32.
void register_mandelbrot(app::Registry& registry);

}  // namespace taskfarm::apps
