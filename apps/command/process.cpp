#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

namespace taskfarm::apps::process {

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

/// A file descriptor that closes itself.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

/// posix_spawn's attribute and file-action objects, destroyed on every path.
struct SpawnSetup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

/// The last `keep` bytes of a stream, and how many it had.
struct Tail {
  std::string text;
  std::uint64_t bytes = 0;
  void add(const char* data, std::size_t n, std::size_t keep) {
    bytes += n;
    text.append(data, n);
    if (text.size() > 2 * keep + 65536) {  // trim now and then, not on every read
      text.erase(0, text.size() - keep);
    }
  }
  void finish(std::size_t keep) {
    if (text.size() > keep) {
      text.erase(0, text.size() - keep);
    }
  }
};

/// Reads what `fd` has now; false once it reached end of file.
bool drain(int fd, Tail& tail, std::size_t keep) {
  std::array<char, 65536> buffer{};
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) {
      tail.add(buffer.data(), static_cast<std::size_t>(n), keep);
      continue;
    }
    if (n == 0) {
      return false;
    }
    if (errno == EINTR) {
      continue;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK;  // nothing more for now; any other error ends it
  }
}

/// The peak resident memory (VmHWM, KiB) of a running process's own address space, or 0. Not
/// wait4's ru_maxrss: a child spawned from a large process (vfork shares its memory until exec)
/// inherits that process's peak there, so rank 0's 100 MB would show as every task's.
std::int64_t peak_rss_kib(pid_t pid) {
  const int fd = ::open(fmt::format("/proc/{}/status", pid).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  std::array<char, 4096> buffer{};
  const ssize_t n = ::read(fd, buffer.data(), buffer.size() - 1);
  ::close(fd);
  if (n <= 0) {
    return 0;
  }
  const std::string_view text(buffer.data(), static_cast<std::size_t>(n));
  const std::size_t at = text.find("VmHWM:");
  if (at == std::string_view::npos) {
    return 0;  // a zombie: its memory is gone
  }
  return std::strtoll(buffer.data() + at + 6, nullptr, 10);
}

/// `name` looked up in PATH once per thread (an execvp-style search costs a failed exec per PATH
/// entry before the right one: nine here for `echo`, on every task); "" when not found, and names
/// with a '/' as they are.
const std::string& program_path(const std::string& name) {
  thread_local std::unordered_map<std::string, std::string> cache;
  const auto [it, inserted] = cache.try_emplace(name);
  if (!inserted) {
    return it->second;
  }
  if (name.find('/') != std::string::npos) {
    it->second = name;
    return it->second;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const std::size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    const std::string candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, name);
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      it->second = candidate;
      break;
    }
  }
  return it->second;
}

Fd pipe_read_end(int& write_end) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
  }
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);  // ours only: the program's end blocks
  write_end = fds[1];
  return Fd(fds[0]);
}

}  // namespace

Outcome run(const Launch& launch, const std::function<bool()>& stop) {
  if (launch.argv.empty() || launch.argv[0].empty()) {
    throw StartError("no program to run (the command is empty)");
  }
  Fd in(::open(launch.stdin_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    throw StartError(fmt::format("cannot open {} as stdin: {}", launch.stdin_path, std::strerror(errno)));
  }
  int out_w = -1;
  int err_w = -1;
  Fd out_r = pipe_read_end(out_w);
  Fd out_write(out_w);
  Fd err_r = pipe_read_end(err_w);
  Fd err_write(err_w);

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, in.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, err_write.get(), STDERR_FILENO);
  if (!launch.workdir.empty()) {
    posix_spawn_file_actions_addchdir_np(&setup.actions, launch.workdir.c_str());
  }
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);  // no MPI socket, no other task's pipe
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP, SIGQUIT, SIGALRM, SIGCHLD}) {
    sigaddset(&defaults, s);  // what a launcher ignores or handles, the program gets as new
  }
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&setup.attr, 0);  // a group of its own: a timeout ends its children too
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &defaults);

  std::vector<char*> argv;
  for (const std::string& a : launch.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : launch.env) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);

  const double started = now();
  pid_t pid = -1;
  const std::string& program = program_path(launch.argv[0]);
  const int error = program.empty()  // not found: posix_spawnp says why, as execvp would
                        ? ::posix_spawnp(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data())
                        : ::posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  if (error != 0) {
    if (!launch.workdir.empty() && ::access(launch.workdir.c_str(), X_OK) != 0) {
      throw StartError(fmt::format("cannot run {} in {}: {}", launch.argv[0], launch.workdir, std::strerror(errno)));
    }
    throw StartError(fmt::format("cannot run {}: {}", launch.argv[0], std::strerror(error)));
  }
  out_write.reset();  // the program holds the write ends now: end of file when it (and its children) close them
  err_write.reset();
  in.reset();
  // Whatever ends this function early (an error, an allocation that fails), the program and its
  // group do not outlive it, and no zombie is left.
  struct Reaper {
    pid_t pid;
    bool armed = true;
    ~Reaper() {
      if (armed) {
        ::kill(-pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
    }
  } reaper{pid};
  Fd exited(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));  // readable once the program has exited

  Outcome outcome;
  Tail out;
  Tail err;
  bool out_open = true;
  bool err_open = true;
  bool ended = false;
  double term_at = launch.timeout_seconds > 0 ? started + launch.timeout_seconds : -1.0;
  double kill_at = -1.0;
  while (!ended) {
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    if (out_open) {
      fds[n++] = {out_r.get(), POLLIN, 0};
    }
    if (err_open) {
      fds[n++] = {err_r.get(), POLLIN, 0};
    }
    if (exited.get() >= 0) {
      fds[n++] = {exited.get(), POLLIN, 0};
    }
    // Wake for the stop flag every 20 ms; without a pidfd (an old kernel), poll for the exit as often.
    const int wait_ms = exited.get() >= 0 ? 20 : 2;
    const int ready = ::poll(fds.data(), n, wait_ms);
    if (ready < 0 && errno != EINTR) {
      throw std::runtime_error(fmt::format("poll: {}", std::strerror(errno)));
    }
    if (out_open) {
      out_open = drain(out_r.get(), out, launch.keep_bytes);
    }
    if (err_open) {
      err_open = drain(err_r.get(), err, launch.keep_bytes);
    }
    outcome.max_rss_kib = std::max(outcome.max_rss_kib, peak_rss_kib(pid));
    siginfo_t info{};
    // WNOWAIT: the program stays a zombie, so its pid (and group id) cannot be reused before we
    // kill what it left in its group, just below.
    const int waited = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    ended = (waited == 0 && info.si_pid == pid) || (waited < 0 && errno == ECHILD);  // ECHILD: reaped elsewhere
    if (ended) {
      break;
    }
    const double t = now();
    if (!outcome.interrupted && !outcome.timed_out && stop && stop()) {
      outcome.interrupted = true;
      term_at = t;
    }
    if (term_at >= 0 && t >= term_at && kill_at < 0) {
      outcome.timed_out = !outcome.interrupted;
      ::kill(-pid, SIGTERM);
      kill_at = t + (outcome.interrupted ? std::min(launch.kill_grace_seconds, 1.5) : launch.kill_grace_seconds);
    }
    if (kill_at >= 0 && t >= kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = t + 3600.0;  // once
    }
  }
  outcome.wall_seconds = now() - started;
  ::kill(-pid, SIGKILL);  // whatever the program left running in its group ends with it
  reaper.armed = false;
  int status = 0;
  pid_t reaped = -1;
  while ((reaped = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (out_open) {
    drain(out_r.get(), out, launch.keep_bytes);  // what it wrote before exiting (its children are gone)
  }
  if (err_open) {
    drain(err_r.get(), err, launch.keep_bytes);
  }
  out.finish(launch.keep_bytes);
  err.finish(launch.keep_bytes);
  if (reaped != pid) {  // reaped by someone else (SIGCHLD ignored): its status is lost
    outcome.exit_code = -1;
  } else if (WIFEXITED(status)) {
    outcome.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome.signal = WTERMSIG(status);
  }
  outcome.out_tail = std::move(out.text);
  outcome.err_tail = std::move(err.text);
  outcome.out_bytes = out.bytes;
  outcome.err_bytes = err.bytes;
  return outcome;
}

}  // namespace taskfarm::apps::process
