#pragma once
// Internal: a public taskfarm::App as the registry entry the CLI and the farm run.
#include "taskfarm/app/registry.hpp"
#include "taskfarm/taskfarm.hpp"

namespace taskfarm::detail {

/// @brief The registry entry running `app`'s kernel through the public Setup/Task views.
[[nodiscard]] app::AppInfo adapt(App app);

}  // namespace taskfarm::detail
