#include "taskfarm/cli/output_file.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/schedule/policy.hpp"

#ifndef TASKFARM_VERSION
#define TASKFARM_VERSION "unknown"
#endif

namespace taskfarm::cli {

io::ResultsFile create_output(const std::filesystem::path& path, bool force, const job::JobSpec& spec,
                              const app::Kernel& kernel, int n_ranks) {
  namespace fs = std::filesystem;
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw InputError(fmt::format("{}: output directory {} does not exist", path.string(), dir.string()));
  }
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    throw InputError(fmt::format("{}: output directory {} is not writable", path.string(), dir.string()));
  }
  if (fs::is_directory(path, ec)) {
    throw InputError(fmt::format("{}: output path is a directory", path.string()));
  }
  if (fs::exists(path, ec) && !force) {
    throw InputError(fmt::format("{}: output file exists; use --force to replace it", path.string()));
  }

  // Created under a temporary name and renamed into place: a job killed while creating its output
  // leaves either no output or a complete, resumable one.
  const fs::path temporary = fs::path(path.string() + fmt::format(".creating-{}", getpid()));
  io::ResultsFile::CreateOptions options;
  options.path = temporary;
  options.n_tasks = spec.params.size();
  for (const app::Field& f : kernel.schema()) {
    options.results.push_back({f.name, f.type, f.shape, f.unit, f.description});
  }
  options.params = &spec.params;
  options.overwrite = true;  // the temporary name is ours
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  options.attributes = {
      {"job_name", spec.name},
      {"app", spec.app},
      {"job_spec", spec.text},
      {"job_hash", spec.hash()},
      {"job_source", spec.source},
      {"policy", std::string(schedule::policy_name(spec.schedule.policy.kind))},
      {"n_ranks", static_cast<std::int64_t>(n_ranks)},
      {"master_computes", static_cast<std::int64_t>(spec.schedule.master_computes ? 1 : 0)},
      {"host", std::string(host)},
      {"taskfarm_version", std::string(TASKFARM_VERSION)},
  };
  try {
    io::ResultsFile file = io::ResultsFile::create(options);
    fs::rename(temporary, path);  // replaces an existing file only with --force (checked above)
    return file;
  } catch (const io::H5Error& e) {
    fs::remove(temporary, ec);
    throw InputError(fmt::format("{}: cannot create the output file: {}", path.string(), e.what()));
  }
}

}  // namespace taskfarm::cli
