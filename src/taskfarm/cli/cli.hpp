#pragma once

#include "taskfarm/app/registry.hpp"

namespace taskfarm::cli {

/// @brief The whole `taskfarm` command line (run, validate, inspect) over the given apps.
/// A user's own executable is `int main(int c, char** v) { Registry r; r.add(...); return cli::main(c, v, r); }`.
int main(int argc, char** argv, const app::Registry& registry);

}  // namespace taskfarm::cli
