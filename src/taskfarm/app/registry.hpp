#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "taskfarm/app/kernel.hpp"
#include "taskfarm/job/job_spec.hpp"

namespace taskfarm::app {

/// @brief A named kernel with a one-line summary.
struct AppInfo {
  std::string name;
  std::string summary;
  KernelFactory make;
  bool side_effects = false;  ///< tasks act on the world: no speculative copies
};

/// @brief The apps a `taskfarm` executable knows; a user's own executable registers its kernels here.
class Registry {
 public:
  void add(AppInfo info);
  [[nodiscard]] const AppInfo* find(std::string_view name) const;
  [[nodiscard]] const std::vector<AppInfo>& apps() const noexcept { return apps_; }
  /// @brief Builds the job's kernel: finds its app, lets it validate `[app]` (and fill default
  /// [params]), then rejects unknown `[app]` keys and an empty parameter space (InputError).
  /// `stop`: the job's stop flag, which kernels that wait (commands) poll, after `poll_stop`; null
  /// when not computing.
  [[nodiscard]] std::unique_ptr<Kernel> instantiate(job::JobSpec& spec, int rank, const std::atomic<int>* stop = nullptr,
                                                    void (*poll_stop)() = nullptr) const;
  /// @brief "a, b, c" for error messages.
  [[nodiscard]] std::string names() const;

 private:
  std::vector<AppInfo> apps_;
};

}  // namespace taskfarm::app
