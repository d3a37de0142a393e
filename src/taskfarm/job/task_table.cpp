#include "taskfarm/job/task_table.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/job/input_file.hpp"

namespace taskfarm::job {

namespace {

/// One record of RFC 4180 text from `pos`: its fields, and the line it started on. Advances pos and
/// line past the record's line break.
struct Record {
  std::vector<std::string> fields;
  std::uint64_t line = 0;
};

Record next_record(std::string_view text, std::size_t& pos, std::uint64_t& line, const std::string& path) {
  Record r;
  r.line = line;
  std::string field;
  bool quoted = false;      // inside a quoted field
  bool was_quoted = false;  // this field began with a quote: only a separator may follow its close
  for (;;) {
    if (pos >= text.size()) {
      if (quoted) {
        throw InputError(fmt::format("{}:{}: a quoted field is not closed before the end of the file", path, r.line));
      }
      r.fields.push_back(std::move(field));
      return r;
    }
    const char c = text[pos++];
    if (quoted) {
      if (c == '"') {
        if (pos < text.size() && text[pos] == '"') {
          field += '"';
          ++pos;
        } else {
          quoted = false;
        }
      } else {
        line += c == '\n' ? 1 : 0;
        field += c;
      }
      continue;
    }
    if (c == ',') {
      r.fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n' || (c == '\r' && pos < text.size() && text[pos] == '\n')) {
      pos += c == '\r' ? 1 : 0;
      ++line;
      r.fields.push_back(std::move(field));
      return r;
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = true;
      was_quoted = true;
    } else if (was_quoted) {
      throw InputError(fmt::format("{}:{}: text after a quoted field's closing quote (write a quote inside "
                                   "quotes as \"\")", path, line));
    } else {
      field += c;
    }
  }
}

/// The cell as an integer when it is exactly how that integer is written (no sign '+', no leading zeros).
std::optional<std::int64_t> as_integer(const std::string& cell) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
  if (ec != std::errc{} || end != cell.data() + cell.size() || fmt::format("{}", v) != cell) {
    return std::nullopt;
  }
  return v;
}

/// The cell as a real when it is exactly how that (finite) real is written back, shortest form.
std::optional<double> as_real(const std::string& cell) {
  double v = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
  if (ec != std::errc{} || end != cell.data() + cell.size() || !std::isfinite(v) || fmt::format("{}", v) != cell) {
    return std::nullopt;
  }
  return v;
}

/// One axis from one column: integers, else reals, else text.
Axis column_axis(std::string name, std::vector<std::string> cells) {
  std::vector<std::int64_t> integers;
  for (const std::string& c : cells) {
    const auto v = as_integer(c);
    if (!v) {
      break;
    }
    integers.push_back(*v);
  }
  if (integers.size() == cells.size()) {
    return Axis::list(std::move(name), std::move(integers));
  }
  std::vector<double> reals;
  for (const std::string& c : cells) {
    auto v = as_real(c);
    if (!v) {
      v = as_integer(c);  // a real column may hold "3" beside "2.5"
    }
    if (!v) {
      break;
    }
    reals.push_back(static_cast<double>(*v));
  }
  if (reals.size() == cells.size()) {
    return Axis::list(std::move(name), std::move(reals));
  }
  return Axis::list(std::move(name), std::move(cells));
}

void check_text(const std::string& text, const std::string& path) {
  if (text.find('\0') != std::string::npos) {
    throw InputError(fmt::format("{}: holds a NUL byte; expected text", path));
  }
}

}  // namespace

ParamSpace read_task_table(const std::filesystem::path& path, std::string* hash) {
  const std::string where = path.string();
  std::string text = read_input_file(path, kMaxTaskFileBytes, "task table");
  if (hash != nullptr) {
    *hash = fnv1a_hex(text);
  }
  check_text(text, where);
  if (text.starts_with("\xEF\xBB\xBF")) {  // a UTF-8 byte order mark (spreadsheets write one)
    text.erase(0, 3);
  }
  std::size_t pos = 0;
  std::uint64_t line = 1;
  if (text.empty()) {
    throw InputError(fmt::format("{}: empty; expected a header row naming the parameters, then one row per task", where));
  }
  const Record header = next_record(text, pos, line, where);
  std::set<std::string, std::less<>> seen;
  for (const std::string& name : header.fields) {
    if (const auto why = unusable_axis_name(name)) {
      throw InputError(fmt::format("{}:1: column \"{}\" cannot name a parameter: {}", where, name, *why));
    }
    if (!seen.insert(name).second) {
      throw InputError(fmt::format("{}:1: column \"{}\" appears twice", where, name));
    }
  }
  std::vector<std::vector<std::string>> columns(header.fields.size());
  while (pos < text.size()) {
    Record row = next_record(text, pos, line, where);
    if (row.fields.size() == 1 && row.fields[0].empty()) {
      continue;  // a blank line (the file's last line break, say)
    }
    if (row.fields.size() != header.fields.size()) {
      throw InputError(fmt::format("{}:{}: {} cells, but the header names {} parameters", where, row.line,
                                   row.fields.size(), header.fields.size()));
    }
    for (std::size_t c = 0; c < columns.size(); ++c) {
      columns[c].push_back(std::move(row.fields[c]));
    }
  }
  if (columns.front().empty()) {
    throw InputError(fmt::format("{}: a header row but no task rows", where));
  }
  std::vector<Axis> axes;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    axes.push_back(column_axis(header.fields[c], std::move(columns[c])));
  }
  return ParamSpace(std::move(axes), Combine::zip);
}

ParamSpace read_task_lines(const std::filesystem::path& path, std::string* hash) {
  const std::string where = path.string();
  std::string text = read_input_file(path, kMaxTaskFileBytes, "command list");
  if (hash != nullptr) {
    *hash = fnv1a_hex(text);
  }
  check_text(text, where);
  if (text.starts_with("\xEF\xBB\xBF")) {  // a UTF-8 byte order mark: not part of the first command
    text.erase(0, 3);
  }
  std::vector<std::string> lines;
  std::vector<std::int64_t> numbers;
  std::size_t pos = 0;
  for (std::int64_t n = 1; pos < text.size(); ++n) {
    std::size_t end = text.find('\n', pos);
    end = end == std::string::npos ? text.size() : end;
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') {
      continue;
    }
    lines.emplace_back(line);
    numbers.push_back(n);
  }
  if (lines.empty()) {
    throw InputError(fmt::format("{}: no command in it (blank lines and lines starting with # are left out)", where));
  }
  return ParamSpace({Axis::list("line_number", std::move(numbers)), Axis::list("line", std::move(lines))}, Combine::zip);
}

}  // namespace taskfarm::job
