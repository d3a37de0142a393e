#include "taskfarm/cli/output_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>  // renameat2 (glibc 2.28+, _GNU_SOURCE)
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/farm/stop_signal.hpp"
#include "taskfarm/job/input_file.hpp"
#include "taskfarm/schedule/policy.hpp"

#ifndef TASKFARM_VERSION
#define TASKFARM_VERSION "unknown"
#endif

namespace taskfarm::cli {

namespace fs = std::filesystem;

namespace {

std::string host_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

/// "<output>.creating-<host>-": the temporary names of outputs being created, followed by a pid.
std::string temporary_prefix(const fs::path& path) {
  return path.filename().string() + ".creating-" + host_name() + "-";
}

/// Removes temporaries of `path` left by processes of this host that no longer run (kill -9 while
/// creating): the only case a creation cannot clean up after itself.
void remove_stale_temporaries(const fs::path& path) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const std::string prefix = temporary_prefix(path);
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) {
      continue;
    }
    const std::string pid_text = name.substr(prefix.size());
    if (pid_text.find_first_not_of("0123456789") != std::string::npos || pid_text.size() > 9) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid != getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) {
      fs::remove(e.path(), ec);
    }
  }
}

}  // namespace

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

io::ResultsFile::CreateOptions output_layout(const job::JobSpec& spec, const app::Kernel& kernel, int n_ranks) {
  io::ResultsFile::CreateOptions options;
  options.n_tasks = spec.params.size();
  options.results = kernel.schema();
  options.params = &spec.params;
  options.attributes = {
      {"job_name", spec.name},
      {"app", spec.app},
      {"job_spec", spec.text},
      {"job_hash", spec.hash()},
      {"job_source", spec.source},
      {"policy", std::string(schedule::policy_name(spec.schedule.policy.kind))},
      {"n_ranks", static_cast<std::int64_t>(n_ranks)},
      {"master_computes", static_cast<std::int64_t>(spec.schedule.master_computes ? 1 : 0)},
      {"host", host_name()},
      {"taskfarm_version", std::string(TASKFARM_VERSION)},
  };
  if (!spec.task_files_hash.empty()) {  // [params] table / lines: what a resume must find again
    options.attributes.emplace_back("task_file_hash", spec.task_files_hash);
  }
  options.cancelled = [] { return farm::stop_requested() != 0; };
  return options;
}

void check_output_path(const fs::path& path, bool force, const job::JobSpec& spec,
                       const io::ResultsFile::CreateOptions& layout) {
  if (path.empty()) {
    throw InputError("output path is empty; give a file name (or leave out -o for the job's [job] output)");
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw InputError(fmt::format("{}: output directory {} does not exist", path.string(), dir.string()));
  }
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    throw InputError(fmt::format("{}: output directory {} is not writable", path.string(), dir.string()));
  }
  for (const fs::path& input : spec.inputs()) {
    if (same_file(path, input)) {
      throw InputError(fmt::format("{}: this is an input of the job ({}); an output never replaces an input, "
                                   "--force or not",
                                   path.string(), input == spec.source ? "the job file" : "read by [app]"));
    }
  }
  const fs::file_status status = fs::symlink_status(path, ec);
  if (fs::is_directory(status)) {
    throw InputError(fmt::format("{}: output path is a directory", path.string()));
  }
  if (fs::exists(status)) {
    if (!fs::is_regular_file(fs::status(path, ec))) {
      throw InputError(fmt::format("{}: exists and is not a regular file (a device, FIFO or socket); taskfarm "
                                   "will not replace it",
                                   path.string()));
    }
    if (io::OutputLock::probe(path) == io::Holder::writer) {
      throw InputError(fmt::format("{}: a running job is writing this file (it holds the file's write lock); "
                                   "--force never replaces a running job's output: stop that job first",
                                   path.string()));
    }
    if (!force) {
      throw InputError(fmt::format("{}: output file exists; use --force to replace it", path.string()));
    }
  }
  check_room(path, layout);
}

void check_room(const fs::path& path, const io::ResultsFile::CreateOptions& layout) {
  // Room for the whole file, before anything is written: a full disk mid-run costs more.
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  struct statvfs fs_info {};
  if (::statvfs(dir.c_str(), &fs_info) == 0 && fs_info.f_blocks == 0) {
    throw InputError(fmt::format("{}: {} is on a virtual file system (such as /proc or /sys) that cannot hold an "
                                 "output file",
                                 path.string(), dir.string()));
  }
  if (::statvfs(dir.c_str(), &fs_info) == 0) {
    const double need = io::ResultsFile::estimate_bytes(layout);
    const double free_bytes = static_cast<double>(fs_info.f_bavail) * static_cast<double>(fs_info.f_frsize);
    if (need > free_bytes) {
      throw InputError(fmt::format("{}: the output needs about {} ({} tasks) but the file system of {} has {} free",
                                   path.string(), job::human_bytes(need), layout.n_tasks, dir.string(),
                                   job::human_bytes(free_bytes)));
    }
  }
}

io::ResultsFile create_in_place(const fs::path& path, io::ResultsFile::CreateOptions layout, Replace replace,
                                const std::function<void(io::ResultsFile&)>& fill) {
  remove_stale_temporaries(path);
  const fs::path temporary =
      (path.has_parent_path() ? path.parent_path() : fs::path(".")) / (temporary_prefix(path) + std::to_string(getpid()));
  // Probe the directory with a plain open() first: its errno names the cause ("Permission denied",
  // "Read-only file system", /proc and /sys refusing files) in our one line, not HDF5's stack.
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw InputError(fmt::format("{}: cannot create the output file: {}", path.string(), std::strerror(errno)));
  }
  ::close(fd);
  layout.path = temporary;
  layout.overwrite = true;  // the temporary name is ours
  struct RemoveUnlessKept {
    const fs::path& file;
    bool keep = false;
    ~RemoveUnlessKept() {
      if (!keep) {
        std::error_code ec;
        fs::remove(file, ec);
      }
    }
  } cleanup{temporary};
  try {
    io::ResultsFile file = io::ResultsFile::create(layout);
    if (fill) {
      fill(file);
      file.flush();
    }
    // The checks of check_output_path() ran before /params were written (minutes, for 10^8 tasks):
    // what they judged is judged again at the rename, so a job started meanwhile is never replaced.
    if (replace == Replace::nothing) {
      int status = ::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
      if (status != 0 && errno == EINVAL) {  // a file system without it: link() refuses an existing name too
        status = ::link(temporary.c_str(), path.c_str());
        if (status == 0) {
          ::unlink(temporary.c_str());
        }
      }
      if (status != 0) {
        if (errno == EEXIST) {
          throw InputError(fmt::format("{}: a file of that name appeared while this job created its output "
                                       "(another job?); it is left as it is",
                                       path.string()));
        }
        throw InputError(fmt::format("{}: cannot create the output file: {}", path.string(), std::strerror(errno)));
      }
    } else {
      if (replace == Replace::unless_running && io::OutputLock::probe(path) == io::Holder::writer) {
        throw InputError(fmt::format("{}: a running job started writing this file while this job created its "
                                     "output; --force never replaces a running job's output",
                                     path.string()));
      }
      fs::rename(temporary, path);  // atomic: the old file or the new one, never neither
    }
    file.moved_to(path);
    cleanup.keep = true;
    return file;
  } catch (const io::H5Error& e) {
    throw InputError(fmt::format("{}: cannot create the output file: {}", path.string(), e.what()));
  } catch (const fs::filesystem_error& e) {
    throw InputError(fmt::format("{}: cannot create the output file: {}", path.string(), e.code().message()));
  }
}

io::ResultsFile create_output(const fs::path& path, bool force, const job::JobSpec& spec, const app::Kernel& kernel,
                              int n_ranks) {
  io::ResultsFile::CreateOptions layout = output_layout(spec, kernel, n_ranks);
  check_output_path(path, force, spec, layout);
  return create_in_place(path, std::move(layout), force ? Replace::unless_running : Replace::nothing);
}

}  // namespace taskfarm::cli
