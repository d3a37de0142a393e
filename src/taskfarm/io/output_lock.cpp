#include "taskfarm/io/output_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace taskfarm::io {

namespace {

struct flock whole_file(short type) {
  struct flock lock {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;  // to the end, however the file grows
  return lock;
}

}  // namespace

OutputLock::OutputLock(const std::filesystem::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) {
    return;
  }
  struct stat st {};
  if (::fstat(fd_, &st) == 0) {
    device_ = st.st_dev;
    inode_ = st.st_ino;
  }
  struct flock lock = whole_file(F_WRLCK);
  // Best effort where byte-range locks are missing (ENOLCK, EINVAL); a held lock is a second writer.
  conflicted_ = ::fcntl(fd_, F_OFD_SETLK, &lock) != 0 && (errno == EAGAIN || errno == EACCES);
}

OutputLock::OutputLock(OutputLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      conflicted_(other.conflicted_),
      device_(other.device_),
      inode_(other.inode_),
      path_(std::move(other.path_)) {}

OutputLock& OutputLock::operator=(OutputLock&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
    conflicted_ = other.conflicted_;
    device_ = other.device_;
    inode_ = other.inode_;
    path_ = std::move(other.path_);
  }
  return *this;
}

OutputLock::~OutputLock() { reset(); }

void OutputLock::reset() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);  // drops the lock
    fd_ = -1;
  }
}

bool OutputLock::still_at_path() const {
  if (fd_ < 0) {
    return true;  // nothing recorded to compare with
  }
  struct stat st {};
  return ::stat(path_.c_str(), &st) == 0 && st.st_dev == device_ && st.st_ino == inode_;
}

Holder OutputLock::probe(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return Holder::none;
  }
  Holder holder = Holder::none;
  struct flock lock = whole_file(F_RDLCK);
  if (::fcntl(fd, F_OFD_GETLK, &lock) == 0 && lock.l_type != F_UNLCK) {
    holder = Holder::writer;  // a write lock conflicts with our read probe
  } else if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    holder = errno == EWOULDBLOCK ? Holder::writer : Holder::none;  // HDF5's exclusive (writer's) lock
  } else {
    ::flock(fd, LOCK_UN);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
      holder = Holder::readers;  // shared locks only: HDF5 readers
    } else {
      ::flock(fd, LOCK_UN);
    }
  }
  ::close(fd);
  return holder;
}

}  // namespace taskfarm::io
