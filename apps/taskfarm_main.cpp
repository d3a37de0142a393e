// The `taskfarm` executable: the CLI over the built-in apps (apps/*/, one taskfarm_add_app line
// each in apps/CMakeLists.txt), through the same public API a user's own executable uses
// (taskfarm/taskfarm.hpp, examples/oscillator).
#include "registered_apps.hpp"

int main(int argc, char** argv) { return taskfarm::main(argc, argv, taskfarm::apps::all()); }
