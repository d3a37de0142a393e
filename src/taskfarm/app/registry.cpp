#include "taskfarm/app/registry.hpp"

#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/job/param_expression.hpp"

namespace taskfarm::app {

void Registry::add(AppInfo info) {
  if (find(info.name) != nullptr) {
    throw Error("app '" + info.name + "' registered twice");
  }
  apps_.push_back(std::move(info));
}

const AppInfo* Registry::find(std::string_view name) const {
  for (const AppInfo& a : apps_) {
    if (a.name == name) {
      return &a;
    }
  }
  return nullptr;
}

std::unique_ptr<Kernel> Registry::instantiate(job::JobSpec& spec, int rank, const std::atomic<int>* stop,
                                              void (*poll_stop)()) const {
  const AppInfo* info = find(spec.app);
  if (info == nullptr) {
    throw InputError(
        fmt::format("{}: [job] app: unknown app \"{}\"; expected one of: {}", spec.source, spec.app, names()));
  }
  // Threads per task: the job's word, else an OMP_NUM_THREADS the user exported, else 1. Not set in
  // the environment here: OpenMP runtimes read it once, at start-up (libgomp when it is loaded),
  // and setenv would race with MPI's own threads. Kernels pass it on (num_threads, a pool size).
  int threads = static_cast<int>(spec.threads_per_task);
  if (threads == 0) {
    const char* env = std::getenv("OMP_NUM_THREADS");
    threads = env != nullptr && std::atoi(env) > 0 ? std::atoi(env) : 1;
  }
  if (spec.schedule.speculate && info->side_effects) {
    throw InputError(fmt::format("{}: [schedule] speculate: app \"{}\" has side effects (its tasks act on files "
                                 "or programs): a speculative copy would run a task twice at once; leave it off",
                                 spec.source, spec.app));
  }
  KernelContext context{spec.app_settings, spec.params, rank, threads, spec.source, stop, poll_stop};
  std::unique_ptr<Kernel> kernel = info->make(context);
  spec.app_settings.reject_unknown();
  if (spec.params.empty()) {
    throw InputError(fmt::format("{}: [params]: missing; app \"{}\" needs at least one parameter axis, "
                                 "e.g. task = {{ range = [0, 100] }}",
                                 spec.source, spec.app));
  }
  job::check_order(spec.schedule.order, spec.params);
  if (!spec.expected_seconds.empty()) {  // against the axes the app may have just given the job
    try {
      (void)job::ParamExpression::parse(spec.expected_seconds, spec.params);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: [job] expected_seconds: {}", spec.source, e.what()));
    }
  }
  for (const Field& f : kernel->schema()) {
    if (f.bytes_per_task() == 0) {
      throw Error(fmt::format("app '{}': result field '{}' has zero size", spec.app, f.name));
    }
  }
  return kernel;
}

std::string Registry::names() const {
  std::string out;
  for (const AppInfo& a : apps_) {
    out += out.empty() ? a.name : ", " + a.name;
  }
  return out;
}

}  // namespace taskfarm::app
