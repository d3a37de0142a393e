#include "taskfarm/job/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"

namespace taskfarm::job {

std::string human_bytes(double bytes) {
  constexpr std::array<const char*, 6> units{"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  std::size_t u = 0;
  while (bytes >= 1024.0 && u + 1 < units.size()) {
    bytes /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

std::string read_input_file(const std::filesystem::path& path, std::uint64_t max_bytes, std::string_view what) {
  if (path.empty()) {
    throw InputError(fmt::format("{}: the path is empty", what));
  }
  // O_NONBLOCK: opening a FIFO with no writer must not block; fstat then says what it is.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    throw InputError(fmt::format("{}: cannot read the {} ({})", path.string(), what, std::strerror(errno)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw InputError(fmt::format("{}: cannot read the {} ({})", path.string(), what, std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    throw InputError(fmt::format("{}: is a directory, not a {}", path.string(), what));
  }
  if (!S_ISREG(st.st_mode)) {
    throw InputError(fmt::format("{}: not a regular file (a FIFO, socket or device); the {} must be a regular file",
                                 path.string(), what));
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    throw InputError(fmt::format("{}: {} is too large for a {} (at most {})", path.string(),
                                 human_bytes(static_cast<double>(st.st_size)), what,
                                 human_bytes(static_cast<double>(max_bytes))));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  // Bounded even if the file grows while we read it.
  while (got < max_bytes + 1) {
    if (got == text.size()) {
      text.resize(std::min<std::uint64_t>(max_bytes + 1, std::max<std::uint64_t>(4096, 2 * text.size())));
    }
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw InputError(fmt::format("{}: cannot read the {} ({})", path.string(), what, std::strerror(errno)));
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  if (got > max_bytes) {
    throw InputError(fmt::format("{}: grew beyond {} while being read; the {} must be a finished file",
                                 path.string(), human_bytes(static_cast<double>(max_bytes)), what));
  }
  text.resize(got);
  return text;
}

std::string fnv1a_hex(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const unsigned char c : bytes) {
    h = (h ^ c) * 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

}  // namespace taskfarm::job
