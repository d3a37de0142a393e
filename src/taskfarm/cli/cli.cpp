#include "taskfarm/cli/cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <numeric>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "taskfarm/cli/number_option.hpp"
#include "taskfarm/cli/output_file.hpp"
#include "taskfarm/cli/export_command.hpp"
#include "taskfarm/cli/inspect_command.hpp"
#include "taskfarm/cli/plot_command.hpp"
#include "taskfarm/cli/simulate_command.hpp"
#include "taskfarm/core/clock.hpp"
#include "taskfarm/core/error.hpp"
#include "taskfarm/farm/launch.hpp"
#include "taskfarm/io/carry_over.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/io/task_state_log.hpp"
#include "taskfarm/job/input_file.hpp"
#include "taskfarm/job/job_spec.hpp"

namespace taskfarm::cli {

namespace {

struct RunArgs {
  std::string job;
  std::string output;
  bool force = false;
  double flush_seconds = 5.0;
  double progress_seconds = 30.0;
  bool quiet = false;
  bool no_fsync = false;
  std::string deadline;  ///< the job's end: "+SECONDS" (or +90m, +2h) from now, or a local time 2026-12-02T18:00
  bool dry_run = false;
  std::uint64_t show = 10;
};

/// Unix seconds of a --deadline: "+3600", "+90m", "+2h", or a local time "2026-12-02T18:00[:00]".
double parse_deadline(const std::string& text) {
  if (text.empty()) {
    return 0.0;
  }
  if (text[0] == '+') {
    std::size_t used = 0;
    double v = -1.0;
    try {
      v = std::stod(text.substr(1), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    const std::string unit = text.substr(1 + used);
    const double scale = unit.empty() || unit == "s" ? 1.0 : unit == "m" ? 60.0 : unit == "h" ? 3600.0 : -1.0;
    if (used == 0 || scale < 0 || !(v > 0) || !std::isfinite(v)) {
      throw InputError(fmt::format("--deadline {}: expected +SECONDS (or +90m, +2h) or a local time like "
                                   "2026-12-02T18:00", text));
    }
    return epoch_seconds() + v * scale;
  }
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M", &tm);
  if (end != nullptr && *end == ':') {
    end = ::strptime(end + 1, "%S", &tm);
  }
  if (end == nullptr || *end != '\0') {
    throw InputError(fmt::format("--deadline {}: expected +SECONDS (or +90m, +2h) or a local time like 2026-12-02T18:00",
                                 text));
  }
  tm.tm_isdst = -1;
  const double when = static_cast<double>(std::mktime(&tm));
  if (when <= epoch_seconds()) {
    throw InputError(fmt::format("--deadline {}: that time has passed", text));
  }
  return when;
}

struct ResumeArgs {
  std::string output;
  std::string job;  // optional: must match the job stored in the output unless force_spec
  bool force_spec = false;
  bool retry_failed = false;
};

/// The farm's options from the command line.
farm::FarmOptions farm_options(const RunArgs& args) {
  farm::FarmOptions options;
  options.flush_seconds = args.flush_seconds;
  options.progress_seconds = args.quiet ? 0.0 : args.progress_seconds;
  options.fsync = !args.no_fsync;
  options.end_epoch = parse_deadline(args.deadline);
  return options;
}

/// The policy's per-worker settings (weights) must fit the computing ranks of this launch.
void check_workers(const job::JobSpec& spec, int n_ranks) {
  if (spec.schedule.groups >= 2 && !spec.schedule.policy.weights.empty()) {
    throw InputError(fmt::format("{}: [schedule] weights: per-worker weights cannot be combined with groups "
                                 "(each group master splits its chunks among its own members)",
                                 spec.source));
  }
  if (spec.schedule.groups >= 2 && 2 * static_cast<int>(spec.schedule.groups) > n_ranks) {
    throw InputError(fmt::format("{}: [schedule] groups: {} groups need at least {} ranks (a group master and a "
                                 "member each), this launch has {}",
                                 spec.source, spec.schedule.groups, 2 * spec.schedule.groups, n_ranks));
  }
  const int workers = n_ranks - 1 + (spec.schedule.master_computes || n_ranks == 1 ? 1 : 0);
  try {
    schedule::check_policy_fits(spec.schedule.policy, workers);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: [schedule] {} (this launch has {} computing ranks)", spec.source, e.what(),
                                 workers));
  }
}

int run_command(const RunArgs& args, const app::Registry& registry) {
  return farm::launch(
      [&](int n_ranks) {
        farm::Prepared p;
        p.text = job::read_job_text(args.job);
        p.source = args.job;
        job::JobSpec spec = job::parse_job(p.text, p.source);
        auto kernel = registry.instantiate(spec, 0);
        check_workers(spec, n_ranks);
        p.output = args.output.empty() ? spec.output : args.output;
        p.file = std::make_unique<io::ResultsFile>(create_output(p.output, args.force, spec, *kernel, n_ranks));
        p.plan.pending = {TaskRange{0, spec.params.size()}};
        return p;
      },
      farm_options(args), registry);
}

/// Refuses (InputError) unless the kernel writes exactly the datasets the file has.
void check_schema(const io::ResultsFile& file, const app::Kernel& kernel, const std::string& path) {
  const std::vector<app::Field> fields = kernel.schema();
  if (fields.size() != file.result_count()) {
    throw InputError(fmt::format("{}: the job's app writes {} result fields, the output holds {}", path,
                                 fields.size(), file.result_count()));
  }
  for (std::size_t c = 0; c < fields.size(); ++c) {
    const io::ColumnSpec& col = file.column(c);
    if (col.name != fields[c].name || col.type != fields[c].type || col.shape != fields[c].shape) {
      throw InputError(fmt::format("{}: /results/{} does not match the job's result field '{}'", path, col.name,
                                   fields[c].name));
    }
  }
}

/// Appends one dated line to the output's `history` attribute: what each run and resume did.
void log_history(io::ResultsFile& file, const std::string& line) {
  const auto old = file.attribute("history");
  const std::string before = old && std::holds_alternative<std::string>(*old) ? std::get<std::string>(*old) : "";
  file.set_attribute("history", before + io::utc_now() + " " + line + "\n");
}

/// A resumed output whose job was edited or whose data is damaged becomes a new file: every result
/// that still holds is carried over (task t of the old file is task target_of[t]), everything else
/// is pending. When the old file held results the new one does not, it is kept beside it.
std::unique_ptr<io::ResultsFile> rebuild_output(std::unique_ptr<io::ResultsFile> old, const std::string& path,
                                                const job::JobSpec& spec, const app::Kernel& kernel, int n_ranks,
                                                const std::vector<TaskIndex>& target_of,
                                                const std::vector<io::Damage>& damage, const std::string& why) {
  io::ResultsFile::CreateOptions layout = output_layout(spec, kernel, n_ranks);
  check_room(path, layout);  // the old and the new file are both on disk until the rename
  const std::function<bool()> cancelled = layout.cancelled;
  std::string stamp = io::utc_now();
  std::erase(stamp, ':');  // 2026-12-02T035400Z: no colons in file names
  const std::string backup = fmt::format("{}.before-resume-{}", path, stamp);
  std::string summary;
  io::ResultsFile fresh = create_in_place(path, std::move(layout), Replace::own_file, [&](io::ResultsFile& f) {
    const io::CarryOver moved = io::carry_over(*old, f, target_of, damage, cancelled);
    for (const char* name : {"created", "history", "resume_count"}) {
      if (const auto v = old->attribute(name)) {
        f.set_attribute(name, *v);
      }
    }
    summary = fmt::format("{}: kept {} done and {} failed tasks, {} of {} tasks to run", why, moved.done,
                          moved.failed, spec.params.size() - moved.done - moved.failed, spec.params.size());
    if (moved.damaged > 0) {
      std::string where;
      std::size_t listed = 0;
      for (const io::Damage& d : damage) {
        if (!d.tasks.empty() && d.dataset.rfind("/params/", 0) != 0 && listed++ < 3) {
          where += fmt::format("{}{} tasks {}-{}", where.empty() ? "" : ", ", d.dataset, d.tasks.begin, d.tasks.end - 1);
        }
      }
      if (listed > 3) {
        where += fmt::format(" and {} more blocks", listed - 3);
      }
      summary += fmt::format("; {} tasks in damaged blocks ({}{}) run again", moved.damaged,
                             target_of.empty() ? "" : "numbered as in the old file: ", where);
    }
    if (moved.dropped > 0) {
      summary += fmt::format("; {} earlier results are not part of the job any more", moved.dropped);
    }
    if (moved.failures_table_lost) {
      summary += "; /failures was damaged, so attempt counts start afresh";
    }
    if (moved.lost() > 0 || moved.failures_table_lost) {
      std::error_code ec;
      std::filesystem::create_hard_link(path, backup, ec);
      if (ec) {
        std::filesystem::copy_file(path, backup, ec);
      }
      summary += ec ? fmt::format("; the old file could not be kept ({})", ec.message())
                    : fmt::format("; the old file is kept as {}", backup);
    }
    log_history(f, "resume: " + summary);
  });
  fmt::print(stderr, "taskfarm: {}: {}\n", path, summary);
  old.reset();
  return std::make_unique<io::ResultsFile>(std::move(fresh));
}

int resume_command(const ResumeArgs& resume, const RunArgs& args, const app::Registry& registry) {
  return farm::launch(
      [&](int n_ranks) {
        farm::Prepared p;
        p.output = resume.output;
        if (resume.output.empty()) {
          throw InputError("output path is empty; name the output file to resume");
        }
        p.file = std::make_unique<io::ResultsFile>(io::ResultsFile::open(resume.output, true));
        const std::string stored_text = p.file->text_attribute("job_spec");
        const std::string stored_source = p.file->text_attribute("job_source");
        p.text = stored_text;
        p.source = stored_source;
        const std::string stored_hash = p.file->text_attribute("job_hash");
        if (!resume.job.empty()) {
          job::JobSpec given;
          given.text = job::read_job_text(resume.job);
          if (given.hash() != stored_hash) {
            if (!resume.force_spec) {
              throw InputError(fmt::format("{}: the job file {} differs from the job stored in the output "
                                           "(hash {} vs {}); use --force-spec to resume with it anyway",
                                           resume.output, resume.job, given.hash(), stored_hash));
            }
            p.text = given.text;
            p.source = resume.job;
          }
        }
        job::JobSpec spec = job::parse_job(p.text, p.source);
        // A [params] table or command list is read again: it must be the file the job started with,
        // or results would land beside other rows (the stored job is what says which tasks were done).
        const auto stored_tasks = p.file->attribute("task_file_hash");
        auto check_task_file = [&](const job::JobSpec& started) {
          if (stored_tasks && std::get<std::string>(*stored_tasks) != started.task_files_hash) {
            throw InputError(fmt::format("{}: {} has changed since this job started (hash {} vs {}): its rows are "
                                         "the tasks; put the file back as it was, or start a new output",
                                         resume.output, started.task_files.empty() ? "the task file" : started.task_files[0],
                                         started.task_files_hash, std::get<std::string>(*stored_tasks)));
          }
        };
        if (p.text == stored_text) {
          check_task_file(spec);
        }
        auto kernel = registry.instantiate(spec, 0);
        check_schema(*p.file, *kernel, resume.output);
        check_workers(spec, n_ranks);

        // Parameter identity: an edited job keeps the results of the tasks it still has.
        std::vector<TaskIndex> target_of;  // empty: every task stays where it is
        std::string why;
        if (p.text != stored_text) {
          job::JobSpec before = job::parse_job(stored_text, stored_source);
          check_task_file(before);  // the tasks as they were, or no task can be matched
          (void)registry.instantiate(before, 0);  // the app fills in its default axes, as it did then
          if (before.app != spec.app || !before.app_settings.same_values(spec.app_settings)) {
            target_of.assign(p.file->n_tasks(), job::kNoTask);
            why = "resumed with changed [app] settings, so no earlier result holds";
          } else {
            target_of = job::match_tasks(before.params, spec.params);
            if (!kernel->results_follow_parameters()) {
              // Its results may depend on the index, even on the task count: keep a result only
              // where the task kept both its index and its values, in a job of the same size.
              const bool same_size = before.params.size() == spec.params.size();
              for (TaskIndex t = 0; t < target_of.size(); ++t) {
                target_of[t] = same_size && target_of[t] == t ? t : job::kNoTask;
              }
            }
            bool same = before.params.size() == spec.params.size();
            for (TaskIndex t = 0; same && t < target_of.size(); ++t) {
              same = target_of[t] == t;
            }
            if (same) {
              target_of.clear();
            } else {
              why = "resumed with edited parameters";
            }
          }
        } else if (spec.params.size() != p.file->n_tasks()) {
          throw InputError(fmt::format("{}: the job has {} tasks, the output {}", resume.output, spec.params.size(),
                                       p.file->n_tasks()));
        }
        // Checksums: a damaged block is never passed off as results; its tasks run again.
        const std::vector<io::Damage> damage =
            p.file->has_checksums() ? p.file->find_damage() : std::vector<io::Damage>{};
        if (!damage.empty() && why.empty()) {
          why = fmt::format("damaged file ({} blocks failed their checksums)", damage.size());
        }
        if (!why.empty()) {  // (an empty target_of: every task stays where it is)
          // A symlinked output (e.g. to scratch) is rebuilt and backed up where it lives.
          std::error_code ec;
          const std::filesystem::path real = std::filesystem::canonical(resume.output, ec);
          const std::string where = ec ? resume.output : real.string();
          p.file = rebuild_output(std::move(p.file), where, spec, *kernel, n_ranks, target_of, damage, why);
        }
        io::ResultsFile& file = *p.file;

        using io::TaskState;
        p.plan.pending = resume.retry_failed ? io::tasks_in_state(file, {TaskState::pending, TaskState::failed})
                                             : io::tasks_in_state(file, {TaskState::pending});
        // Failed attempts so far count against `retries`, except for tasks --retry-failed gives a new chance.
        std::vector<std::uint8_t> state(1);
        for (const io::FailureRow& f : file.read_failures()) {
          file.read_tasks(file.state_column(), {f.task, f.task + 1}, state.data());
          if (state[0] == static_cast<std::uint8_t>(TaskState::pending)) {
            p.plan.attempts[f.task] = std::max(p.plan.attempts[f.task], f.attempt);
          }
          p.plan.failed_before[f.task] = std::max(p.plan.failed_before[f.task], f.attempt);
        }
        if (resume.retry_failed) {  // a task marked failed gets a fresh budget of retries
          std::vector<std::uint8_t> zero(1, 0);
          for (const TaskRange r : io::tasks_in_state(file, {TaskState::failed})) {
            for (TaskIndex t = r.begin; t < r.end; ++t) {
              file.write_tasks(file.state_column(), {t, t + 1}, zero.data());
            }
          }
        }
        const auto resumes = file.attribute("resume_count");
        file.set_attribute("resume_count",
                           (resumes ? std::get<std::int64_t>(*resumes) : std::int64_t{0}) + std::int64_t{1});
        file.set_attribute("status", std::string("running"));
        file.set_attribute("n_ranks", static_cast<std::int64_t>(n_ranks));
        if (p.source == resume.job) {
          file.set_attribute("job_spec", p.text);
          file.set_attribute("job_hash", spec.hash());
          file.set_attribute("job_source", p.source);
        }
        file.flush();
        return p;
      },
      farm_options(args), registry);
}

/// The first `n` tasks as they would run: the kernel's own account (a command's argv, quoted so that
/// spaces, quotes and empty arguments show), else the task's parameter values.
void show_tasks(const job::JobSpec& spec, const app::Kernel& kernel, std::uint64_t n) {
  const std::uint64_t shown = std::min<std::uint64_t>(n, spec.params.size());
  for (TaskIndex t = 0; t < shown; ++t) {
    std::string text = kernel.describe(t);
    if (text.empty()) {
      for (std::size_t a = 0; a < spec.params.axes().size(); ++a) {
        text += fmt::format("{}{}={}", a == 0 ? "" : " ", spec.params.axes()[a].name(),
                            spec.params.axes()[a].format_at(spec.params.position(a, t)));
      }
    }
    fmt::print("  task {:>6}  {}\n", t, text);
  }
  if (shown < spec.params.size()) {
    fmt::print("  ... {} tasks more\n", spec.params.size() - shown);
  }
}

int validate_command(const std::string& path, const app::Registry& registry, std::uint64_t show) {
  job::JobSpec spec = job::parse_job(job::read_job_text(path), path);
  auto kernel = registry.instantiate(spec, 0);
  // The disk check `run` makes: a job that cannot fit is refused here too (one line, exit 2),
  // unless its output exists already (a resume writes no new file: then it is only reported).
  const io::ResultsFile::CreateOptions layout = output_layout(spec, *kernel, 1);
  std::string room;
  try {
    check_room(spec.output, layout);
  } catch (const InputError& e) {
    std::error_code ec;
    if (!std::filesystem::exists(spec.output, ec)) {
      throw;
    }
    room = fmt::format("; a new output would not fit: {}", e.what());
  }
  fmt::print("{}: ok\n", path);
  fmt::print("  job      {} (app {}, output {})\n", spec.name, spec.app, spec.output);
  fmt::print("  schedule {}{}, order {}\n", schedule::policy_name(spec.schedule.policy.kind),
             spec.schedule.master_computes ? ", rank 0 computes too" : ", rank 0 only schedules",
             spec.schedule.order.text());
  fmt::print("  tasks    {} ({} of {} axes)\n", spec.params.size(),
             spec.params.combine() == job::Combine::zip ? "zip" : "product", spec.params.axes().size());
  for (const job::Axis& a : spec.params.axes()) {
    fmt::print("    {:<12} {:>10} values  {}\n", a.name(), a.size(), a.describe());
  }
  for (const app::Field& f : kernel->schema()) {
    fmt::print("  result   /results/{} {}{}\n", f.name, f.describe(spec.params.size()),
               f.unit.empty() ? "" : " [" + f.unit + "]");
  }
  fmt::print("  output   about {}{}\n", job::human_bytes(io::ResultsFile::estimate_bytes(layout)), room);
  if (show > 0) {
    show_tasks(spec, *kernel, show);
  }
  return 0;
}

/// Reads every dataset of an output back and names the damaged tasks. Exit code 0: intact; 1: damage
/// found (the tasks are listed; `taskfarm resume` computes them again).
int verify_command(const std::string& path) {
  const io::ResultsFile file = io::ResultsFile::open(path);
  if (!file.has_checksums()) {
    fmt::print("{}: written by an older taskfarm without checksums (format {}): damage cannot be detected\n", path,
               file.attribute("taskfarm_format") ? std::visit([](const auto& v) { return fmt::format("{}", v); },
                                                              *file.attribute("taskfarm_format"))
                                                 : std::string("?"));
    return static_cast<int>(ExitCode::tasks_failed);  // not "intact": nothing could be checked
  }
  const std::vector<io::Damage> damage = file.find_damage();
  if (damage.empty()) {
    fmt::print("{}: ok: every checksum matches ({} tasks, {} result datasets)\n", path, file.n_tasks(),
               file.result_count());
    return 0;
  }
  std::vector<TaskRange> tasks;
  for (const io::Damage& d : damage) {
    if (d.tasks.empty()) {
      fmt::print("{}: {} is damaged: {}\n", path, d.dataset, d.error);
    } else {
      fmt::print("{}: {} is damaged for tasks {}-{}\n", path, d.dataset, d.tasks.begin, d.tasks.end - 1);
      if (d.dataset.rfind("/params/", 0) != 0) {
        tasks.push_back(d.tasks);
      }
    }
  }
  std::sort(tasks.begin(), tasks.end(), [](TaskRange a, TaskRange b) { return a.begin < b.begin; });
  std::uint64_t n = 0;
  TaskIndex covered = 0;
  for (const TaskRange r : tasks) {
    const TaskIndex b = std::max(r.begin, covered);
    n += r.end > b ? r.end - b : 0;
    covered = std::max(covered, r.end);
  }
  if (n == 0) {
    fmt::print("{}: no task's results are damaged, but the parts above are; `taskfarm resume {}` rewrites them "
               "(it keeps the damaged file beside it)\n",
               path, path);
  } else {
    fmt::print("{}: {} damaged tasks; `taskfarm resume {}` computes them again (it keeps the damaged file beside "
               "it)\n",
               path, n, path);
  }
  return static_cast<int>(ExitCode::tasks_failed);
}

/// The options every command that launches a farm (run, resume) takes.
void add_launch_options(CLI::App& command, RunArgs& args) {
  command.add_option("--checkpoint-seconds", args.flush_seconds, "flush results to the file this often")
      ->check(finite_in(0.01, 86400.0));
  command.add_option("--progress-seconds", args.progress_seconds,
                     "progress line interval off a terminal (on one: a line updated every second); 0 for none")
      ->check(finite_in(0.0, 86400.0));
  command.add_flag("-q,--quiet", args.quiet, "no progress lines (the live status for inspect is still written)");
  command.add_flag("--no-fsync", args.no_fsync,
                   "checkpoints survive a killed job but not a node crash or power loss (saves the fsync)");
  command.add_option("--deadline", args.deadline,
                     "the job's end: +SECONDS (+90m, +2h) or a local time 2026-12-02T18:00 (under Slurm: the "
                     "allocation's end); with [job] expected_seconds no task starts that would end after it");
}

}  // namespace

int main(int argc, char** argv, const app::Registry& registry) {
  CLI::App app{"taskfarm: run N independent tasks on every core, results in one HDF5 file"};
  app.require_subcommand(1);
  RunArgs run;
  CLI::App* run_cmd = app.add_subcommand("run", "run a job under mpirun/srun (rank 0 schedules and writes)");
  run_cmd->add_option("job", run.job, "job file (TOML)")->required();
  run_cmd->add_option("-o,--output", run.output, "output file (default: [job] output of the job file)");
  run_cmd->add_flag("-f,--force", run.force, "replace an existing output file");
  run_cmd->add_flag("--dry-run", run.dry_run,
                    "check the job and print its first tasks as they would run (a command's argv), run nothing");
  run_cmd->add_option("--show", run.show, "with --dry-run: how many tasks to print (default 10)");
  add_launch_options(*run_cmd, run);

  ResumeArgs resume;
  RunArgs resume_run;
  CLI::App* resume_cmd =
      app.add_subcommand("resume", "continue a stopped or crashed job in its output file (under mpirun/srun)");
  resume_cmd->add_option("output", resume.output, "the job's output file (HDF5)")->required();
  resume_cmd->add_option("job", resume.job, "job file: must match the stored job unless --force-spec");
  resume_cmd->add_flag("--force-spec", resume.force_spec, "resume with a job file that differs from the stored one");
  resume_cmd->add_flag("--retry-failed", resume.retry_failed, "run the tasks that failed for good again");
  add_launch_options(*resume_cmd, resume_run);

  std::string validate_job;
  std::uint64_t validate_show = 0;
  CLI::App* validate_cmd = app.add_subcommand("validate", "check a job file without running it (no MPI needed)");
  validate_cmd->add_option("job", validate_job, "job file (TOML)")->required();
  validate_cmd->add_option("--show", validate_show,
                           "print the first N tasks as they would run (a command's argv, quoting made visible)");

  std::function<int()> simulate_action;
  add_simulate_command(app, registry, simulate_action);
  std::function<int()> export_action;
  add_export_command(app, export_action);
  std::function<int()> plot_action;
  add_plot_command(app, plot_action);

  std::function<int()> inspect_action;
  add_inspect_command(app, inspect_action);

  std::string verify_path;
  CLI::App* verify_cmd = app.add_subcommand(
      "verify", "read every dataset of an output back and list damaged tasks (exit 0 intact, 1 damaged)");
  verify_cmd->add_option("file", verify_path, "taskfarm output (HDF5)")->required();

  const std::string_view first = argc > 1 ? argv[1] : "";
  if (!first.empty() && first[0] != '-' && first != "run" && first != "resume" && first != "validate" &&
      first != "inspect" && first != "simulate" && first != "verify" && first != "export" &&
      first != "plot") {
    return farm::fail_on_every_rank(fmt::format("unknown command \"{}\"; expected run, resume, validate, inspect, verify, "
                                         "export, plot or simulate (see taskfarm --help)",
                                         argv[1]),
                             static_cast<int>(ExitCode::bad_input));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return farm::fail_on_every_rank(fmt::format("{} (see taskfarm --help)", e.what()), static_cast<int>(ExitCode::bad_input));
  }
  if (*run_cmd && run_cmd->count("--output") > 0 && run.output.empty()) {
    return farm::fail_on_every_rank("--output: the path is empty; give a file name, or leave out -o for the job's [job] "
                             "output",
                             static_cast<int>(ExitCode::bad_input));
  }
  io::silence_hdf5_errors();  // HDF5's own stack printing: we turn its errors into one line

  try {
    if (*run_cmd && run.dry_run) {
      if (const char* r = std::getenv("OMPI_COMM_WORLD_RANK"); r != nullptr && std::atoi(r) > 0) {
        return 0;  // under mpirun: rank 0 alone prints
      }
      return validate_command(run.job, registry, std::max<std::uint64_t>(run.show, 1));
    }
    if (*run_cmd) {
      return run_command(run, registry);
    }
    if (*resume_cmd) {
      return resume_command(resume, resume_run, registry);
    }
    if (*validate_cmd) {
      return validate_command(validate_job, registry, validate_show);
    }
    if (inspect_action) {
      return inspect_action();
    }
    if (*verify_cmd) {
      return verify_command(verify_path);
    }
    if (simulate_action) {
      return simulate_action();
    }
    if (export_action) {
      return export_action();
    }
    if (plot_action) {
      return plot_action();
    }
  } catch (const InputError& e) {
    farm::print_error(e.what());
    return static_cast<int>(ExitCode::bad_input);
  } catch (const std::exception& e) {
    farm::print_error(e.what());
    return static_cast<int>(ExitCode::internal);
  }
  return static_cast<int>(ExitCode::bad_input);
}

}  // namespace taskfarm::cli
