// The `taskfarm` executable: the CLI over the built-in apps (apps/*/, one taskfarm_add_app line
// each in apps/CMakeLists.txt). A user's own executable is built on taskfarm/taskfarm.hpp instead
// (examples/oscillator).
#include "registered_apps.hpp"
#include "taskfarm/cli/cli.hpp"

int main(int argc, char** argv) {
  taskfarm::app::Registry registry;
  taskfarm::apps::register_all(registry);
  return taskfarm::cli::main(argc, argv, registry);
}
