// libFuzzer target: the job-file parser and validator, as `taskfarm validate` runs them. Any input
// must end in a parsed job or an InputError (one clear line); anything else (a crash, another
// exception, a sanitizer report, a hang) is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mandelbrot/mandelbrot.hpp"
#include "synthetic/synthetic.hpp"
#include "taskfarm/api/adapt.hpp"
#include "taskfarm/core/error.hpp"
#include "taskfarm/job/job_spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const taskfarm::app::Registry registry = [] {
    taskfarm::app::Registry r;
    r.add(taskfarm::detail::adapt(taskfarm::apps::mandelbrot()));
    r.add(taskfarm::detail::adapt(taskfarm::apps::synthetic()));
    return r;
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    taskfarm::job::JobSpec spec = taskfarm::job::parse_job(text, "fuzz.toml");
    auto kernel = registry.instantiate(spec, 0);
    // Touch the first and last task's parameters, as a worker would.
    for (const taskfarm::TaskIndex t : {taskfarm::TaskIndex{0}, spec.params.size() - 1}) {
      for (std::size_t a = 0; a < spec.params.axes().size(); ++a) {
        (void)spec.params.axes()[a].format_at(spec.params.position(a, t));
      }
    }
  } catch (const taskfarm::InputError&) {
    // the expected outcome for bad input
  }
  return 0;
}
