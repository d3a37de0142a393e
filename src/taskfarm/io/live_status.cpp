#include "taskfarm/io/live_status.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "taskfarm/core/error.hpp"

namespace taskfarm::io {

namespace {

toml::table to_table(const LiveStatus& s) {
  toml::array ranks;
  for (const LiveStatus::Rank& r : s.ranks) {
    ranks.push_back(toml::table{{"rank", r.rank},
                                {"host", r.host},
                                {"tasks", static_cast<std::int64_t>(r.tasks)},
                                {"busy_seconds", r.busy_seconds},
                                {"in_open_chunks", static_cast<std::int64_t>(r.in_open_chunks)}});
  }
  toml::array slowest;
  for (const LiveStatus::Task& t : s.slowest) {
    slowest.push_back(toml::table{{"task", static_cast<std::int64_t>(t.task)}, {"seconds", t.seconds}});
  }
  toml::array failures;
  for (const LiveStatus::Failure& f : s.recent_failures) {
    failures.push_back(toml::table{{"task", static_cast<std::int64_t>(f.task)},
                                   {"attempt", static_cast<std::int64_t>(f.attempt)},
                                   {"rank", f.rank},
                                   {"host", f.host},
                                   {"message", f.message}});
  }
  return toml::table{{"output", s.output},
                     {"job_name", s.job_name},
                     {"app", s.app},
                     {"pid", s.pid},
                     {"host", s.host},
                     {"updated", s.updated},
                     {"n_tasks", static_cast<std::int64_t>(s.n_tasks)},
                     {"earlier", static_cast<std::int64_t>(s.earlier)},
                     {"to_do", static_cast<std::int64_t>(s.to_do)},
                     {"done", static_cast<std::int64_t>(s.done)},
                     {"failed", static_cast<std::int64_t>(s.failed)},
                     {"pending", static_cast<std::int64_t>(s.pending())},
                     {"stopping", s.stopping},
                     {"elapsed_seconds", s.elapsed_seconds},
                     {"tasks_per_second", s.tasks_per_second},
                     {"eta_seconds", s.eta_seconds},
                     {"ranks", std::move(ranks)},
                     {"slowest", std::move(slowest)},
                     {"recent_failures", std::move(failures)}};
}

template <class T>
T get(const toml::table& t, std::string_view key, T fallback = {}) {
  return t[key].value<T>().value_or(fallback);
}

}  // namespace

std::filesystem::path live_status_path(const std::filesystem::path& output) {
  return std::filesystem::path(output.string() + ".status.toml");
}

void remove_live_status(const std::filesystem::path& output) noexcept {
  std::error_code ignored;  // none there is the usual case
  std::filesystem::remove(live_status_path(output), ignored);
}

std::string format_live_status(const LiveStatus& status, bool json) {
  std::ostringstream out;
  if (json) {
    out << toml::json_formatter{to_table(status)} << "\n";
  } else {
    out << "# taskfarm: the live status of a running job (taskfarm inspect reads it); removed when the job ends\n"
        << to_table(status) << "\n";
  }
  return out.str();
}

int write_live_status(const LiveStatus& status) noexcept {
  try {
    const std::filesystem::path path = live_status_path(status.output);
    const std::string temp = path.string() + fmt::format(".{}", ::getpid());
    const std::string text = format_live_status(status, false);
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      return errno;
    }
    const ssize_t written = ::write(fd, text.data(), text.size());
    int error = written < 0 ? errno : written != static_cast<ssize_t>(text.size()) ? ENOSPC : 0;
    ::close(fd);
    if (error == 0 && ::rename(temp.c_str(), path.c_str()) != 0) {
      error = errno;
    }
    if (error != 0) {
      ::unlink(temp.c_str());
    }
    return error;
  } catch (const std::exception&) {  // formatting: out of memory
    return ENOMEM;
  }
}

std::optional<LiveStatus> read_live_status(const std::filesystem::path& output) {
  toml::table t;
  try {
    t = toml::parse_file(live_status_path(output).string());
  } catch (const toml::parse_error&) {  // none yet (or gone): the caller says so
    return std::nullopt;
  }
  LiveStatus s;
  s.output = get<std::string>(t, "output");
  s.job_name = get<std::string>(t, "job_name");
  s.app = get<std::string>(t, "app");
  s.pid = static_cast<int>(get<std::int64_t>(t, "pid"));
  s.host = get<std::string>(t, "host");
  s.updated = get<std::string>(t, "updated");
  s.n_tasks = static_cast<std::uint64_t>(get<std::int64_t>(t, "n_tasks"));
  s.earlier = static_cast<std::uint64_t>(get<std::int64_t>(t, "earlier"));
  s.to_do = static_cast<std::uint64_t>(get<std::int64_t>(t, "to_do"));
  s.done = static_cast<std::uint64_t>(get<std::int64_t>(t, "done"));
  s.failed = static_cast<std::uint64_t>(get<std::int64_t>(t, "failed"));
  s.stopping = get<bool>(t, "stopping");
  s.elapsed_seconds = get<double>(t, "elapsed_seconds");
  s.tasks_per_second = get<double>(t, "tasks_per_second");
  s.eta_seconds = get<double>(t, "eta_seconds", -1.0);
  if (const toml::array* a = t["ranks"].as_array()) {
    for (const toml::node& n : *a) {
      if (const toml::table* r = n.as_table()) {
        s.ranks.push_back({static_cast<int>(get<std::int64_t>(*r, "rank")), get<std::string>(*r, "host"),
                           static_cast<std::uint64_t>(get<std::int64_t>(*r, "tasks")), get<double>(*r, "busy_seconds"),
                           static_cast<std::uint64_t>(get<std::int64_t>(*r, "in_open_chunks"))});
      }
    }
  }
  if (const toml::array* a = t["slowest"].as_array()) {
    for (const toml::node& n : *a) {
      if (const toml::table* r = n.as_table()) {
        s.slowest.push_back({static_cast<std::uint64_t>(get<std::int64_t>(*r, "task")), get<double>(*r, "seconds")});
      }
    }
  }
  if (const toml::array* a = t["recent_failures"].as_array()) {
    for (const toml::node& n : *a) {
      if (const toml::table* r = n.as_table()) {
        s.recent_failures.push_back({static_cast<std::uint64_t>(get<std::int64_t>(*r, "task")),
                                     static_cast<std::uint32_t>(get<std::int64_t>(*r, "attempt")),
                                     static_cast<int>(get<std::int64_t>(*r, "rank")), get<std::string>(*r, "host"),
                                     get<std::string>(*r, "message")});
      }
    }
  }
  return s;
}

}  // namespace taskfarm::io
