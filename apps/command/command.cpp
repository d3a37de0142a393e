// The command app: farm any program over a parameter space, a task table or a command list. A
// task's argv comes from a template ([app] command) with its parameter values substituted, and is
// exec'd directly: a value stays one argument whatever characters it holds. Written against the
// public API (taskfarm/taskfarm.hpp) like any user's kernel; process control is in process.cpp,
// templates in command_line.cpp.
#include "command.hpp"

#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command_line.hpp"
#include "process.hpp"

extern char** environ;  // NOLINT: POSIX

namespace taskfarm::apps {

namespace {

using command_line::Placeholder;
using command_line::Template;
using command_line::Value;

constexpr std::size_t kHostBytes = 64;
constexpr std::int64_t kMaxKeepBytes = std::int64_t{1} << 24;

/// Where a placeholder's value comes from: the task index, or a parameter axis read by handle.
struct Source {
  ParamKind kind = ParamKind::integer;
  bool index = false;
  Param<std::int64_t> integer;
  Param<double> real;
  Param<std::string> text;
};

class Command final : public Kernel {
 public:
  explicit Command(Setup& setup) {
    const Settings& s = setup.settings();
    shell_ = s.flag("shell", false);
    lines_ = setup.has_param("line") && setup.has_param("line_number") && !s.has("command");
    if (!lines_) {
      const std::string command = s.text("command");
      if (shell_) {
        parts_.emplace_back(parse(s, "command", command));
        try {  // every placeholder where the shell can take its value
          parts_[0].check_shell();
        } catch (const std::invalid_argument& e) {
          s.fail("command", e.what());
        }
      } else {
        std::vector<std::string> words;
        try {
          words = command_line::split_words(command);
        } catch (const std::invalid_argument& e) {
          s.fail("command", e.what());
        }
        if (words.empty()) {
          s.fail("command", "expected a program and its arguments, got nothing");
        }
        for (const std::string& w : words) {
          parts_.emplace_back(parse(s, "command", w));
        }
      }
    } else {
      line_ = setup.param<std::string>("line");
    }
    timeout_ = s.real("timeout", 0.0);
    if (timeout_ < 0) {
      s.fail("timeout", fmt::format("expected seconds >= 0 (0: no limit), got {}", timeout_));
    }
    kill_grace_ = s.real("kill_grace", 2.0);
    if (kill_grace_ < 0 || kill_grace_ > 3600) {
      s.fail("kill_grace", fmt::format("expected seconds in [0, 3600], got {}", kill_grace_));
    }
    const std::int64_t keep = s.integer("keep_output", 4096);
    if (keep < 1 || keep > kMaxKeepBytes) {
      s.fail("keep_output", fmt::format("expected bytes in [1, {}], got {}", kMaxKeepBytes, keep));
    }
    keep_ = static_cast<std::size_t>(keep);
    if (s.has("workdir")) {
      workdir_ = parse(s, "workdir", s.text("workdir"));
    }
    create_workdir_ = s.flag("create_workdir", false);
    if (create_workdir_ && !workdir_) {
      s.fail("create_workdir", "set, but there is no workdir to create");
    }
    stdin_ = parse(s, "stdin", s.text("stdin", "/dev/null"));
    if (s.has("output_file")) {
      output_file_ = parse(s, "output_file", s.text("output_file"));
    }
    for (const std::string& e : s.texts("env", std::vector<std::string>{})) {
      const std::size_t eq = e.find('=');
      if (eq == 0 || eq == std::string::npos) {
        s.fail("env", fmt::format("expected \"NAME=value\" entries, got \"{}\"", e));
      }
      env_.emplace_back(e.substr(0, eq), parse(s, "env", e.substr(eq + 1)));
    }
    // Every placeholder names a parameter (or the index), and its spec fits that parameter's kind.
    for (const auto& [name, where] : names_) {
      Source src;
      if (setup.has_param(name)) {
        src.kind = setup.param_kind(name);
        if (src.kind == ParamKind::integer) {
          src.integer = setup.param<std::int64_t>(name);
        } else if (src.kind == ParamKind::real) {
          src.real = setup.param<double>(name);
        } else {
          src.text = setup.param<std::string>(name);
        }
      } else if (name == "index") {
        src.index = true;
      } else {
        std::string names = "index";
        for (const std::string& n : setup.param_names()) {
          names += ", " + n;
        }
        s.fail(where, fmt::format("{{{}}} names no parameter; the job has: {}", name, names));
      }
      sources_.emplace(name, src);
    }
    for (const auto& [spec, where] : specs_) {
      const Source& src = sources_.at(spec.name);
      const Value sample = src.index || src.kind == ParamKind::integer ? Value{std::int64_t{0}}
                           : src.kind == ParamKind::real              ? Value{0.0}
                                                                      : Value{std::string()};
      try {
        (void)command_line::format_value(sample, spec.spec);
      } catch (const std::invalid_argument& e) {
        s.fail(where, fmt::format("{{{}:{}}}: {}", spec.name, spec.spec, e.what()));
      }
    }
    threads_ = setup.threads();
    std::array<char, 256> host{};
    ::gethostname(host.data(), host.size() - 1);
    host_ = host.data();
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      const std::string_view var(*e);
      // Not the launcher's: a program that uses MPI itself (mpi4py, a nested mpirun) must not try
      // to join this job.
      if (var.starts_with("OMPI_") || var.starts_with("PMIX_") || var.starts_with("PMI_") ||
          var.starts_with("OPAL_") || var.starts_with("ORTE_") || var.starts_with("PRTE_")) {
        continue;
      }
      base_env_.emplace_back(var);
    }

    exit_code_ = setup.field<std::int32_t>("exit_code", "", "the program's exit status (-1: ended by a signal or never started)");
    signal_ = setup.field<std::int32_t>("signal", "", "the signal that ended the program (0: none)");
    timed_out_ = setup.field<std::uint8_t>("timed_out", "", "1: killed at [app] timeout with its process group");
    wall_ = setup.field<double>("wall_seconds", "s", "wall time from start to exit");
    rss_ = setup.field<std::int64_t>("max_rss", "KiB", "peak resident memory of the program");
    stdout_ = setup.text_field("stdout", keep_, "the last bytes of standard output (UTF-8; see stdout_bytes)");
    stderr_ = setup.text_field("stderr", keep_, "the last bytes of standard error (UTF-8; see stderr_bytes)");
    stdout_bytes_ = setup.field<std::uint64_t>("stdout_bytes", "B", "bytes written to standard output in all");
    stderr_bytes_ = setup.field<std::uint64_t>("stderr_bytes", "B", "bytes written to standard error in all");
    stdout_cut_ = setup.field<std::uint8_t>("stdout_truncated", "", "1: stdout holds only the last keep_output bytes");
    stderr_cut_ = setup.field<std::uint8_t>("stderr_truncated", "", "1: stderr holds only the last keep_output bytes");
    host_field_ = setup.text_field("host", kHostBytes, "the node that ran the task");
    if (output_file_) {
      output_exists_ = setup.field<std::uint8_t>("output_exists", "", "1: [app] output_file existed after the task");
    }
  }

  [[nodiscard]] std::string describe(const Task& task) const override {
    Plan plan;
    try {
      plan = plan_for(task);
    } catch (const std::exception& e) {
      return fmt::format("(fails: {})", e.what());  // what the task would record, shown, not thrown
    }
    std::string text = command_line::show_argv(plan.launch.argv);
    if (!plan.launch.workdir.empty()) {
      text += fmt::format("    (in {})", command_line::shell_quote(plan.launch.workdir));
    }
    return text;
  }

  void compute(Task& task) override {
    Plan plan = plan_for(task);
    task.set_text(host_field_, host_);
    if (create_workdir_) {
      std::error_code ec;
      std::filesystem::create_directories(plan.launch.workdir, ec);
      if (ec) {
        throw TaskFailed(fmt::format("cannot create the working directory {}: {}", plan.launch.workdir, ec.message()));
      }
    }
    process::Outcome r;
    try {
      r = process::run(plan.launch, [&task] { return task.stop_signal() != 0; });
    } catch (const process::StartError& e) {
      task.out(exit_code_)[0] = -1;
      throw TaskFailed(e.what());
    }
    if (r.interrupted) {
      throw Interrupted(fmt::format("task {}: cut short: the job is stopping", task.index()));
    }
    task.out(exit_code_)[0] = r.exit_code;
    task.out(signal_)[0] = r.signal;
    task.out(timed_out_)[0] = r.timed_out ? 1 : 0;
    task.out(wall_)[0] = r.wall_seconds;
    task.out(rss_)[0] = r.max_rss_kib;
    task.out(stdout_bytes_)[0] = r.out_bytes;
    task.out(stderr_bytes_)[0] = r.err_bytes;
    const bool out_whole = task.set_text(stdout_, r.out_tail, Task::Keep::tail) && r.out_bytes == r.out_tail.size();
    const bool err_whole = task.set_text(stderr_, r.err_tail, Task::Keep::tail) && r.err_bytes == r.err_tail.size();
    task.out(stdout_cut_)[0] = out_whole ? 0 : 1;
    task.out(stderr_cut_)[0] = err_whole ? 0 : 1;
    if (r.timed_out) {
      throw TaskFailed(fmt::format("timed out after {} s: its process group was ended{}", timeout_, last_words(r)));
    }
    if (r.signal != 0) {
      throw TaskFailed(fmt::format("ended by signal {} ({}){}", r.signal, ::strsignal(r.signal), last_words(r)));
    }
    if (r.exit_code != 0) {
      throw TaskFailed(fmt::format("exit code {}{}", r.exit_code, last_words(r)));
    }
    if (output_file_) {
      std::filesystem::path path = plan.output_file;
      if (path.is_relative() && !plan.launch.workdir.empty()) {
        path = std::filesystem::path(plan.launch.workdir) / path;
      }
      std::error_code ec;
      const bool exists = std::filesystem::exists(path, ec);
      task.out(output_exists_)[0] = exists ? 1 : 0;
      if (!exists) {
        throw TaskFailed(fmt::format("exit code 0, but its output file {} does not exist", path.string()));
      }
    }
  }

 private:
  /// Everything one task's run needs, built from its values.
  struct Plan {
    process::Launch launch;
    std::string output_file;
  };

  /// Parses a template, remembering which names it uses and where, for the checks above.
  Template parse(const Settings& s, const std::string& key, const std::string& text) {
    try {
      Template t(text);
      for (const Placeholder& p : t.placeholders()) {
        names_.emplace(p.name, key);
        if (!p.spec.empty()) {
          specs_.emplace_back(p, key);
        }
      }
      return t;
    } catch (const std::invalid_argument& e) {
      s.fail(key, e.what());
    }
  }

  Plan plan_for(const Task& task) const {
    auto value = [&](const Placeholder& p) -> Value {
      const Source& src = sources_.at(p.name);
      if (src.index) {
        return static_cast<std::int64_t>(task.index());
      }
      if (src.kind == ParamKind::integer) {
        return task.param(src.integer);
      }
      if (src.kind == ParamKind::real) {
        return task.param(src.real);
      }
      return task.param(src.text);
    };
    Plan plan;
    process::Launch& l = plan.launch;
    if (lines_) {
      const std::string line = task.param(line_);
      if (shell_) {
        l.argv = {"/bin/sh", "-c", line};
      } else {
        std::vector<bool> quoted;
        try {
          l.argv = command_line::split_words(line, &quoted);
        } catch (const std::invalid_argument& e) {
          throw Error(fmt::format("line {}: {}", task.param<std::int64_t>("line_number"), e.what()));
        }
        // A command list is written as shell lines: an unquoted operator would silently become an
        // argument (`prog > out` writing "> out" nowhere). Refuse the task, say what to do.
        for (std::size_t k = 0; k < l.argv.size(); ++k) {
          const std::string& w = l.argv[k];
          if (!quoted[k] && (w == "|" || w == "||" || w == "&&" || w == ";" || w == "&" || w == ">" || w == ">>" || w == "<" ||
              w == "2>" || w == "2>&1" || w == "<<")) {
            throw Error(fmt::format("line {}: `{}` is shell syntax, but commands run without a shell: set [app] "
                                    "shell = true (or quote it to pass it as an argument)",
                                    task.param<std::int64_t>("line_number"), w));
          }
        }
      }
    } else if (shell_) {  // the template is shell syntax; the values are its positional parameters
      std::vector<std::string> args;
      l.argv = {"/bin/sh", "-c", parts_[0].shell_line(value, args), "sh"};
      l.argv.insert(l.argv.end(), args.begin(), args.end());
    } else {
      for (const Template& t : parts_) {
        l.argv.push_back(t.render(value));
      }
    }
    if (workdir_) {
      l.workdir = workdir_->render(value);
    }
    l.stdin_path = stdin_.render(value);
    if (output_file_) {
      plan.output_file = output_file_->render(value);
    }
    l.timeout_seconds = timeout_;
    l.kill_grace_seconds = kill_grace_;
    l.keep_bytes = keep_;
    // The environment: ours, the task's own variables, thread counts (a farm runs many programs per
    // node: each gets threads_per_task threads, not all cores), then the job's [app] env.
    std::map<std::string, std::string> add;
    const std::string threads = std::to_string(threads_);
    for (const char* name : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                             "VECLIB_MAXIMUM_THREADS"}) {
      add[name] = threads;
    }
    add["TASKFARM_TASK"] = std::to_string(task.index());
    for (const auto& [name, t] : env_) {
      add[name] = t.render(value);
    }
    for (const std::string& e : base_env_) {
      const std::string name = e.substr(0, e.find('='));
      if (add.find(name) == add.end()) {
        l.env.push_back(e);
      }
    }
    for (const auto& [name, v] : add) {
      l.env.push_back(name + "=" + v);
    }
    return plan;
  }

  /// "; stderr ends: ..." with the last line or so of stderr, for /failures.
  static std::string last_words(const process::Outcome& r) {
    std::string_view tail = r.err_tail;
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' ')) {
      tail.remove_suffix(1);
    }
    if (tail.empty()) {
      return {};
    }
    if (tail.size() > 200) {
      tail.remove_prefix(tail.size() - 200);
    }
    std::string text(tail);
    for (char& c : text) {
      c = c == '\n' || c == '\r' || c == '\t' ? ' ' : c;
    }
    return fmt::format("; stderr ends: {}", text);
  }

  bool shell_ = false;
  bool lines_ = false;
  std::vector<Template> parts_;
  Param<std::string> line_;
  double timeout_ = 0.0;
  double kill_grace_ = 2.0;
  std::size_t keep_ = 4096;
  std::optional<Template> workdir_;
  bool create_workdir_ = false;
  Template stdin_{""};
  std::optional<Template> output_file_;
  std::vector<std::pair<std::string, Template>> env_;
  std::multimap<std::string, std::string> names_;  // placeholder name -> the [app] key it is in
  std::vector<std::pair<Placeholder, std::string>> specs_;
  std::map<std::string, Source> sources_;
  int threads_ = 1;
  std::string host_;
  std::vector<std::string> base_env_;

  Output<std::int32_t> exit_code_;
  Output<std::int32_t> signal_;
  Output<std::uint8_t> timed_out_;
  Output<double> wall_;
  Output<std::int64_t> rss_;
  TextOutput stdout_;
  TextOutput stderr_;
  Output<std::uint64_t> stdout_bytes_;
  Output<std::uint64_t> stderr_bytes_;
  Output<std::uint8_t> stdout_cut_;
  Output<std::uint8_t> stderr_cut_;
  TextOutput host_field_;
  Output<std::uint8_t> output_exists_;
};

}  // namespace

App command() {
  return {"command", "runs a program per task: argv from a template, no shell; exit code, signal, time, memory, "
                     "stdout/stderr tails", make<Command>, /*side_effects=*/true};
}

}  // namespace taskfarm::apps
