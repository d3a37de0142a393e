// taskfarm export OUT.h5 --csv: the output as one CSV table for spreadsheets and tools without HDF5.
#include "taskfarm/cli/export_command.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/io/results_file.hpp"

namespace taskfarm::cli {

namespace {

struct ExportArgs {
  std::string file;
  std::string output;  // empty: stdout
  bool csv = true;
};

/// RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled.
void put_text(std::string& line, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    line += v;
    return;
  }
  line += '"';
  for (char c : v) {
    line += c;
    if (c == '"') {
      line += '"';
    }
  }
  line += '"';
}

/// One scalar result (`bytes` of it), numbers as the shortest text that reads back to the same value.
void put_value(std::string& line, ElementType type, const std::byte* p, std::size_t bytes) {
  auto get = [p]<class T>(T) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  switch (type) {
    case ElementType::u8: fmt::format_to(std::back_inserter(line), "{}", get(std::uint8_t{})); break;
    case ElementType::i32: fmt::format_to(std::back_inserter(line), "{}", get(std::int32_t{})); break;
    case ElementType::u32: fmt::format_to(std::back_inserter(line), "{}", get(std::uint32_t{})); break;
    case ElementType::i64: fmt::format_to(std::back_inserter(line), "{}", get(std::int64_t{})); break;
    case ElementType::u64: fmt::format_to(std::back_inserter(line), "{}", get(std::uint64_t{})); break;
    case ElementType::f32: fmt::format_to(std::back_inserter(line), "{}", get(float{})); break;
    case ElementType::f64: fmt::format_to(std::back_inserter(line), "{}", get(double{})); break;
    case ElementType::text: {  // NUL-padded
      const auto* chars = reinterpret_cast<const char*>(p);
      put_text(line, std::string_view(chars, std::find(chars, chars + bytes, '\0') - chars));
      break;
    }
  }
}

/// Where the CSV goes: stdout, or a new file (never an existing one: nothing a user has is replaced).
class Sink {
 public:
  explicit Sink(const std::string& path) : path_(path) {
    if (path.empty()) {
      out_ = stdout;
      return;
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      throw InputError(errno == EEXIST ? fmt::format("{}: exists; export never replaces a file, choose another name", path)
                                       : fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
    }
    out_ = ::fdopen(fd, "w");
    if (out_ == nullptr) {
      const int error = errno;
      ::close(fd);
      ::unlink(path.c_str());
      throw Error(fmt::format("{}: {}", path, std::strerror(error)));
    }
  }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  ~Sink() {  // not closed: an error ended the export, and a partial CSV must not pass for a whole one
    if (out_ != nullptr && out_ != stdout) {
      std::fclose(out_);
      ::unlink(path_.c_str());
    }
  }
  void write(const std::string& text) {
    if (std::fwrite(text.data(), 1, text.size(), out_) != text.size()) {
      throw Error(fmt::format("{}: write failed: {}", path_.empty() ? "stdout" : path_, std::strerror(errno)));
    }
  }
  void close() {
    std::FILE* out = std::exchange(out_, nullptr);
    const bool flushed = std::fflush(out) == 0;
    int error = errno;
    const bool closed = out == stdout || std::fclose(out) == 0;  // closed even when the flush failed
    if (flushed && !closed) {
      error = errno;
    }
    if (!flushed || !closed) {
      if (out != stdout) {
        ::unlink(path_.c_str());
      }
      throw Error(fmt::format("{}: write failed: {}", path_.empty() ? "stdout" : path_, std::strerror(error)));
    }
  }

 private:
  std::string path_;
  std::FILE* out_ = nullptr;
};

int export_csv(const ExportArgs& args) {
  const io::ResultsFile file = io::ResultsFile::open(args.file);
  const std::vector<std::string> params = file.param_names();
  std::vector<std::size_t> scalars;  // result columns with one value per task
  std::vector<std::string> left_out;
  for (std::size_t c = 0; c < file.result_count(); ++c) {
    if (file.column(c).shape.empty() || file.column(c).type == ElementType::text) {
      scalars.push_back(c);
    } else {
      left_out.push_back(file.column(c).name);
    }
  }
  Sink sink(args.output);
  std::string line = "task";
  for (const std::string& p : params) {
    line += ',';
    put_text(line, p);
  }
  for (std::size_t c : scalars) {
    line += ',';
    put_text(line, file.column(c).name);
  }
  line += ",task_state,task_rank,task_seconds";  // bookkeeping, prefixed: apart from result names
  const std::optional<std::size_t> attempts_column = file.attempts_column();
  line += attempts_column ? ",task_attempts\n" : "\n";
  sink.write(line);

  constexpr TaskIndex kBlock = 65536;
  std::vector<io::ParamValues> values(params.size());
  std::vector<std::vector<std::byte>> results(scalars.size());
  std::vector<std::uint8_t> state(kBlock);
  std::vector<std::int32_t> rank(kBlock);
  std::vector<double> seconds(kBlock);
  std::vector<std::uint32_t> attempts(kBlock);
  static constexpr const char* kStates[] = {"pending", "done", "failed"};
  for (TaskIndex b = 0; b < file.n_tasks(); b += kBlock) {
    const TaskRange r{b, std::min(file.n_tasks(), b + kBlock)};
    for (std::size_t a = 0; a < params.size(); ++a) {
      values[a] = file.read_param(params[a], r);
    }
    for (std::size_t k = 0; k < scalars.size(); ++k) {
      results[k].resize(r.size() * file.column_bytes(scalars[k]));
      file.read_tasks(scalars[k], r, results[k].data());
    }
    file.read_tasks(file.state_column(), r, state.data());
    file.read_tasks(file.rank_column(), r, rank.data());
    file.read_tasks(file.seconds_column(), r, seconds.data());
    if (attempts_column) {
      file.read_tasks(*attempts_column, r, attempts.data());
    }
    std::string text;
    for (TaskIndex i = 0; i < r.size(); ++i) {
      fmt::format_to(std::back_inserter(text), "{}", r.begin + i);
      for (const io::ParamValues& v : values) {
        text += ',';
        std::visit(
            [&](const auto& column) {
              if constexpr (std::is_same_v<std::decay_t<decltype(column)>, std::vector<std::string>>) {
                put_text(text, column[i]);
              } else {
                fmt::format_to(std::back_inserter(text), "{}", column[i]);
              }
            },
            v);
      }
      const bool done = state[i] == 1;
      for (std::size_t k = 0; k < scalars.size(); ++k) {
        text += ',';
        if (done) {  // a pending or failed task has no result: an empty cell, not a zero
          const std::size_t bytes = file.column_bytes(scalars[k]);
          put_value(text, file.column(scalars[k]).type, results[k].data() + i * bytes, bytes);
        }
      }
      fmt::format_to(std::back_inserter(text), ",{},", state[i] < 3 ? kStates[state[i]] : "unknown");
      if (rank[i] >= 0) {
        fmt::format_to(std::back_inserter(text), "{}", rank[i]);
      }
      text += ',';
      if (done) {
        fmt::format_to(std::back_inserter(text), "{}", seconds[i]);
      }
      if (attempts_column) {
        fmt::format_to(std::back_inserter(text), ",{}", attempts[i]);
      }
      text += '\n';
    }
    sink.write(text);
  }
  sink.close();
  if (!left_out.empty()) {
    std::string names;
    for (const std::string& n : left_out) {
      names += names.empty() ? n : ", " + n;
    }
    fmt::print(stderr, "taskfarm: export: left out results with more than one value per task: {} (read them with "
                       "h5py or xarray)\n", names);
  }
  if (args.output.empty()) {
    return 0;
  }
  {
    fmt::print(stderr, "taskfarm: export: {} rows written to {}\n", file.n_tasks(), args.output);
  }
  return 0;
}

}  // namespace

void add_export_command(CLI::App& app, std::function<int()>& action) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export", "write an output as CSV: one row per task (index, parameters, scalar results, state, rank, seconds)");
  cmd->add_option("file", args->file, "taskfarm output (HDF5)")->required();
  cmd->add_flag("--csv", args->csv, "CSV (RFC 4180), the only format so far");
  cmd->add_option("-o,--output", args->output, "a new file to write (default: standard output)");
  cmd->callback([args, &action] { action = [args] { return export_csv(*args); }; });
}

}  // namespace taskfarm::cli
