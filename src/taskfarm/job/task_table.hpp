#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "taskfarm/job/param_space.hpp"

namespace taskfarm::job {

/// @brief The tasks of a CSV file (RFC 4180: comma-separated, fields in double quotes may hold
/// commas, quotes doubled, and line breaks; CRLF or LF): the header row names the parameters, each
/// further row is one task. A column is integer or real when every one of its cells reads back to
/// the same text (`007`, `1.50` and empty cells keep a column text: a program gets what the file
/// says). Throws InputError "PATH:LINE: ..." for a missing file, a header that cannot name an
/// axis, a repeated name, a row with more or fewer cells than the header, or no row at all.
/// `hash`: when given, set to fnv1a_hex of the file's bytes.
ParamSpace read_task_table(const std::filesystem::path& path, std::string* hash = nullptr);

/// @brief The tasks of a command list (GNU parallel, disBatch): one task per line, blank lines and
/// lines starting with '#' left out. Axes: `line` (the text) and `line_number` (1-based, in the file).
ParamSpace read_task_lines(const std::filesystem::path& path, std::string* hash = nullptr);

/// @brief The largest task table or command list taskfarm reads (every rank holds it in memory).
inline constexpr std::uint64_t kMaxTaskFileBytes = std::uint64_t{1} << 30;

}  // namespace taskfarm::job
