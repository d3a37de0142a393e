#include "taskfarm/app/registry.hpp"

#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"

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

std::unique_ptr<Kernel> Registry::instantiate(job::JobSpec& spec, int rank) const {
  const AppInfo* info = find(spec.app);
  if (info == nullptr) {
    throw InputError(
        fmt::format("{}: [job] app: unknown app \"{}\"; expected one of: {}", spec.source, spec.app, names()));
  }
  // Threads per task: the job's word, else an OMP_NUM_THREADS the user set, else 1 (ranks x threads
  // must fit the cores; the OpenMP runtime reads the variable when the kernel first starts a team).
  int threads = static_cast<int>(spec.threads_per_task);
  if (threads > 0) {
    ::setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
  } else if (const char* env = std::getenv("OMP_NUM_THREADS"); env != nullptr && std::atoi(env) > 0) {
    threads = std::atoi(env);
  } else {
    threads = 1;
    ::setenv("OMP_NUM_THREADS", "1", 1);
  }
  KernelContext context{spec.app_settings, spec.params, rank, threads, spec.source};
  std::unique_ptr<Kernel> kernel = info->make(context);
  spec.app_settings.reject_unknown();
  if (spec.params.empty()) {
    throw InputError(fmt::format("{}: [params]: missing; app \"{}\" needs at least one parameter axis, "
                                 "e.g. task = {{ range = [0, 100] }}",
                                 spec.source, spec.app));
  }
  job::check_order(spec.schedule.order, spec.params);
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
