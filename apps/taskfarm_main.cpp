// The `taskfarm` executable: the CLI over the built-in apps. A user's own executable looks the same
// with its own register_* calls.
#include "mandelbrot/mandelbrot.hpp"
#include "synthetic/synthetic.hpp"
#include "taskfarm/cli/cli.hpp"

int main(int argc, char** argv) {
  taskfarm::app::Registry registry;
  taskfarm::apps::register_mandelbrot(registry);
  taskfarm::apps::register_synthetic(registry);
  return taskfarm::cli::main(argc, argv, registry);
}
