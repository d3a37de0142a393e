// taskfarm plot: the figures are drawn by matplotlib (python/taskfarm_plot.py); this command finds
// the script and an interpreter with h5py and matplotlib, and execs it.
#include "taskfarm/cli/plot_command.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "taskfarm/core/error.hpp"

namespace taskfarm::cli {

namespace {

namespace fs = std::filesystem;

struct PlotArgs {
  std::string file;
  std::string output_dir;
  std::string format = "png";
  std::string x;  // the sweep plots' x axis (default: the script's choice)
};

fs::path plot_script() {
  if (const char* env = std::getenv("TASKFARM_PLOT_SCRIPT"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    throw Error(fmt::format("cannot find the taskfarm executable's directory: {}", ec.message()));
  }
  // bin/taskfarm -> share/taskfarm/taskfarm_plot.py, in the build tree and in an installed prefix alike
  return exe.parent_path().parent_path() / "share" / "taskfarm" / "taskfarm_plot.py";
}

std::string python() {
  if (const char* env = std::getenv("TASKFARM_PYTHON"); env != nullptr && *env != '\0') {
    return env;
  }
  // Debian's interpreter has python3-h5py and python3-matplotlib; a python3 earlier on PATH (pyenv,
  // conda) often has neither.
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

int plot(const PlotArgs& args) {
  if (!fs::exists(args.file)) {
    throw InputError(fmt::format("{}: no such file", args.file));
  }
  const fs::path script = plot_script();
  if (!fs::is_regular_file(script)) {
    throw InputError(fmt::format("{}: the plotting script is missing (a partial install? set TASKFARM_PLOT_SCRIPT)",
                                 script.string()));
  }
  const std::string interpreter = python();
  // --opt=VALUE and "--" before the file: a name starting with '-' stays a value
  std::vector<std::string> words{interpreter, script.string(), "--format=" + args.format};
  if (!args.output_dir.empty()) {
    words.push_back("--output-dir=" + args.output_dir);
  }
  if (!args.x.empty()) {
    words.push_back("--x=" + args.x);
  }
  words.insert(words.end(), {"--", args.file});
  std::vector<char*> argv;
  for (std::string& w : words) {
    argv.push_back(w.data());
  }
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  ::execvp(argv[0], argv.data());
  throw InputError(fmt::format("cannot run {}: {} (plots need python3 with h5py and matplotlib: "
                               "cmake/setup-debian.sh installs them)",
                               interpreter, std::strerror(errno)));
}

}  // namespace

void add_plot_command(CLI::App& app, std::function<int()>& action) {
  auto args = std::make_shared<PlotArgs>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "draw an output's chunk timeline, load balance and results (PNG, SVG or PDF; needs python3-matplotlib)");
  cmd->add_option("file", args->file, "taskfarm output (HDF5)")->required();
  cmd->add_option("-o,--output-dir", args->output_dir, "directory for the figures (default: beside the file)");
  cmd->add_option("--x", args->x, "the parameter on the x axis of sweep plots (default: the first numeric one)");
  cmd->add_option("--format", args->format, "png (default), svg or pdf")->check(CLI::IsMember({"png", "svg", "pdf"}));
  cmd->callback([args, &action] { action = [args] { return plot(*args); }; });
}

}  // namespace taskfarm::cli
