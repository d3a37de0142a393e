#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace taskfarm::job {

/// @brief Reads a whole input file (a job file, a costs list, later a task table) after checking
/// what it is: a regular file (never a FIFO that blocks forever or a device that never ends) of at
/// most `max_bytes`. Throws InputError "PATH: <what> ..." naming the problem otherwise.
std::string read_input_file(const std::filesystem::path& path, std::uint64_t max_bytes, std::string_view what);

/// @brief 64-bit FNV-1a (Fowler, Noll, Vo) of `bytes` as 16 hex digits: stable across platforms and
/// releases, unlike std::hash (identifies a job text, a task table).
std::string fnv1a_hex(std::string_view bytes);

/// @brief "1.5 GiB", "300 KiB", "12 B": sizes in messages.
std::string human_bytes(double bytes);

}  // namespace taskfarm::job
