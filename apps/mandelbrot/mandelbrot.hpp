#pragma once

#include <taskfarm/taskfarm.hpp>

namespace taskfarm::apps {

/// @brief `mandelbrot`: a task is one image row; result `iterations`, shape (width,) uint32.
[[nodiscard]] App mandelbrot();

}  // namespace taskfarm::apps
