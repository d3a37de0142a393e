#include "taskfarm/cli/inspect_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "taskfarm/cli/number_option.hpp"
#include "taskfarm/core/element_type.hpp"
#include "taskfarm/core/error.hpp"
#include "taskfarm/io/live_status.hpp"
#include "taskfarm/io/output_lock.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/io/task_state_log.hpp"

namespace taskfarm::cli {

namespace {

struct InspectArgs {
  std::string file;
  double watch = 0.0;  // seconds between refreshes; 0: once
  bool json = false;
};

std::string seconds_text(double s) {
  if (s < 0) {
    return "?";
  }
  if (s < 120) {
    return fmt::format("{:.3g} s", s);
  }
  const auto whole = static_cast<long long>(std::llround(s));  // rounded once: never "2 min 60 s"
  if (whole < 7200) {
    return fmt::format("{} min {:02} s", whole / 60, whole % 60);
  }
  const long long minutes = (whole + 30) / 60;
  return fmt::format("{} h {:02} min", minutes / 60, minutes % 60);
}

/// The live figures as a person reads them.
void print_live(const io::LiveStatus& s) {
  fmt::print("{}: running{} (rank 0: pid {} on {}), status of {}\n", s.output, s.stopping ? ", stopping" : "", s.pid,
             s.host, s.updated);
  fmt::print("  job      {} (app {})\n", s.job_name, s.app);
  fmt::print("  tasks    {} done, {} failed, {} pending of {}{}\n", s.done, s.failed, s.pending(), s.to_do,
             s.earlier > 0 ? fmt::format(" (and {} settled by earlier runs, {} in the job)", s.earlier, s.n_tasks) : "");
  fmt::print("  rate     {:.0f} tasks/s, elapsed {}, ETA {}\n", s.tasks_per_second, seconds_text(s.elapsed_seconds),
             s.pending() == 0 ? "0 s" : seconds_text(s.eta_seconds));
  for (const io::LiveStatus::Rank& r : s.ranks) {
    const double busy = s.elapsed_seconds > 0 ? std::min(1.0, r.busy_seconds / s.elapsed_seconds) : 0.0;
    fmt::print("  rank {:<3} {}: {} tasks, busy {} ({:.0f}%), idle {:.0f}%{}\n", r.rank, r.host, r.tasks,
               seconds_text(r.busy_seconds), 100 * busy, 100 * (1 - busy),
               r.in_open_chunks > 0 ? fmt::format(", {} tasks in open chunks", r.in_open_chunks) : "");
  }
  if (!s.slowest.empty()) {
    std::string text;
    for (const io::LiveStatus::Task& t : s.slowest) {
      text += fmt::format("{}task {} {}", text.empty() ? "" : ", ", t.task, seconds_text(t.seconds));
    }
    fmt::print("  slowest  {}\n", text);
  }
  for (const io::LiveStatus::Failure& f : s.recent_failures) {
    fmt::print("  failed   task {} (attempt {}, rank {} on {}): {}\n", f.task, f.attempt, f.rank, f.host, f.message);
  }
}

/// A text attribute of the file's root, or `missing`.
std::string text_of(const io::ResultsFile& file, const char* name, const char* missing) {
  const auto v = file.attribute(name);
  return v && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : std::string(missing);
}

/// A numeric attribute of the file's root.
std::optional<double> number_of(const io::ResultsFile& file, const char* name) {
  const auto v = file.attribute(name);
  if (!v || std::holds_alternative<std::string>(*v)) {
    return std::nullopt;
  }
  return std::visit([](const auto& x) -> double {
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(x)>>) {
      return static_cast<double>(x);
    } else {
      return 0.0;
    }
  }, *v);
}

/// A finished file's figures in the live status' shape (for --json: one schema either way).
io::LiveStatus status_of_file(const io::ResultsFile& file, const std::string& path) {
  io::LiveStatus s;
  s.output = path;
  auto text = [&](const char* name) { return text_of(file, name, ""); };
  auto number = [&](const char* name) { return number_of(file, name).value_or(0.0); };
  s.job_name = text("job_name");
  s.app = text("app");
  s.host = text("host");
  s.updated = text("finished");
  s.n_tasks = file.n_tasks();
  s.to_do = file.n_tasks();
  const auto counts = io::count_states(file);
  s.done = counts[1];
  s.failed = counts[2];
  s.elapsed_seconds = number("wall_seconds");
  // wall_seconds is the last run's: a rate over every run's tasks only when there was one run
  s.tasks_per_second = s.elapsed_seconds > 0 && number("resume_count") == 0.0
                           ? static_cast<double>(s.done) / s.elapsed_seconds
                           : 0.0;
  s.eta_seconds = counts[0] == 0 ? 0.0 : -1.0;
  // Slowest tasks: one pass over /tasks/seconds, a block at a time.
  constexpr TaskIndex kBlock = 1 << 16;
  std::vector<double> seconds(kBlock);
  std::vector<std::uint8_t> state(kBlock);
  for (TaskIndex b = 0; b < file.n_tasks(); b += kBlock) {
    const TaskRange r{b, std::min(file.n_tasks(), b + kBlock)};
    file.read_tasks(file.seconds_column(), r, seconds.data());
    file.read_tasks(file.state_column(), r, state.data());
    for (TaskIndex i = 0; i < r.size(); ++i) {
      if (state[i] == 1) {
        io::LiveStatus::keep_slowest(s.slowest, {r.begin + i, seconds[i]});
      }
    }
  }
  const std::vector<io::FailureRow> failures = file.read_failures();
  for (std::size_t i = failures.size() > 5 ? failures.size() - 5 : 0; i < failures.size(); ++i) {
    const io::FailureRow& f = failures[i];
    s.recent_failures.push_back({f.task, f.attempt, f.rank, f.host, f.message});
  }
  return s;
}

/// The summary of a file no job is writing (the pre-live `inspect`), plus its checksums.
int print_file(const std::string& path, bool json) {
  const io::ResultsFile file = io::ResultsFile::open(path);
  auto text = [&](const char* name) { return text_of(file, name, "?"); };
  auto number = [&](const char* name) {
    const auto v = number_of(file, name);
    return v ? fmt::format("{}", *v) : std::string("?");
  };
  const TaskIndex n = file.n_tasks();
  const std::vector<io::Damage> damage = file.has_checksums() ? file.find_damage() : std::vector<io::Damage>{};
  if (json) {
    io::LiveStatus status;
    try {
      status = status_of_file(file, path);
    } catch (const io::H5Error&) {  // states or times unreadable: the checks below say which blocks
      status.output = path;
      status.n_tasks = n;
    }
    std::string body = io::format_live_status(status, true);
    // One schema for running and finished jobs; a finished one adds its status and its checks.
    const auto brace = body.find('{');
    body.insert(brace + 1, fmt::format("\n    \"status\": \"{}\",\n    \"damaged_blocks\": {},", text("status"),
                                       damage.size()));
    fmt::print("{}", body);
    return damage.empty() ? 0 : static_cast<int>(ExitCode::tasks_failed);
  }
  fmt::print("{}: taskfarm output, status {}{}\n", path, text("status"), damage.empty() ? "" : ", DAMAGED");
  fmt::print("  job      {} (app {}, policy {}, {} ranks, hash {})\n", text("job_name"), text("app"), text("policy"),
             number("n_ranks"), text("job_hash"));
  try {
    const auto counts = io::count_states(file);
    fmt::print("  tasks    {} done, {} failed, {} pending of {}\n", counts[1], counts[2], counts[0], n);
  } catch (const io::H5Error&) {
    fmt::print("  tasks    {} (their states are damaged)\n", n);
  }
  for (std::size_t c = 0; c < file.result_count(); ++c) {
    fmt::print("  result   /results/{} {}\n", file.column(c).name, file.column(c).describe(n));
  }
  const auto wall = number_of(file, "wall_seconds");
  fmt::print("  created  {}, wall {}\n", text("created"), wall ? fmt::format("{:.2f} s", *wall) : std::string("?"));
  if (!file.has_checksums()) {
    fmt::print("  checks   none (written before checksums; taskfarm verify cannot detect damage)\n");
    return 0;
  }
  if (!damage.empty()) {
    fmt::print("  DAMAGED  {} blocks fail their checksums: taskfarm verify {} lists the tasks, taskfarm resume {} "
               "computes them again\n",
               damage.size(), path, path);
    return static_cast<int>(ExitCode::tasks_failed);
  }
  fmt::print("  checks   every checksum matches\n");
  return 0;
}

/// One look at `path`: the live status while a job writes it, else the file itself.
int inspect_once(const InspectArgs& args, bool clear) {
  if (io::OutputLock::probe(args.file) != io::Holder::writer) {
    return print_file(args.file, args.json);
  }
  const std::optional<io::LiveStatus> live = io::read_live_status(args.file);
  if (clear) {
    fmt::print("\033[H\033[2J");
  }
  if (!live) {
    if (args.json) {
      io::LiveStatus none;  // the same formatter as every other answer: the path is escaped
      none.output = args.file;
      std::string body = io::format_live_status(none, true);
      body.insert(body.find('{') + 1, "\n    \"status\": \"running\", \"no_status_yet\": true,");
      fmt::print("{}", body);
    } else {
      fmt::print("{}: running; it has not written its live status ({}) yet\n", args.file,
                 io::live_status_path(args.file).string());
    }
    return 0;
  }
  if (args.json) {
    std::string body = io::format_live_status(*live, true);
    body.insert(body.find('{') + 1, "\n    \"status\": \"running\",");
    fmt::print("{}", body);
  } else {
    print_live(*live);
  }
  return 0;
}

int inspect(const InspectArgs& args) {
  if (!std::filesystem::exists(args.file)) {
    throw InputError(fmt::format("{}: no such file", args.file));
  }
  if (args.watch <= 0) {
    return inspect_once(args, false);
  }
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  for (;;) {  // until the job ends: then the file's own summary, once
    if (io::OutputLock::probe(args.file) != io::Holder::writer) {
      if (tty) {
        fmt::print("\033[H\033[2J");
      }
      return print_file(args.file, args.json);
    }
    inspect_once(args, tty);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(args.watch));
  }
}

}  // namespace

void add_inspect_command(CLI::App& app, std::function<int()>& action) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "summarise an output file; on a running job, its live status (progress, rate, ETA, ranks, failures)");
  cmd->add_option("file", args->file, "taskfarm output (HDF5)")->required();
  cmd->add_option("--watch", args->watch, "refresh every SECONDS until the job ends (default 2)")
      ->expected(0, 1)
      ->default_str("2")
      ->check(finite_in(0.1, 3600.0));
  cmd->add_flag("--json", args->json, "print JSON (one schema for running and finished jobs)");
  cmd->callback([args, cmd, &action] {
    if (cmd->count("--watch") > 0 && args->watch <= 0) {
      args->watch = 2.0;
    }
    action = [args] { return inspect(*args); };
  });
}

}  // namespace taskfarm::cli
