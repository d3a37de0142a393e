#pragma once

#include <sys/types.h>

#include <filesystem>

namespace taskfarm::io {

/// @brief Who has an output file open, as far as its locks tell.
enum class Holder {
  none,     ///< nobody (or nobody who locks)
  readers,  ///< programs reading it (h5py, HDFView, `taskfarm inspect`: HDF5's shared lock)
  writer,   ///< a running job (HDF5's exclusive lock, or taskfarm's own write lock)
};

/// @brief What a writing job holds on its output beside HDF5's own lock, and how it notices that
/// the file it writes is no longer the one at its path.
///
/// HDF5 (1.10.7+) flock()s the files it opens, but `HDF5_USE_FILE_LOCKING=FALSE` turns that off,
/// and a file removed or renamed over keeps being written as an unlinked inode: the job would end
/// "successfully" with its results in no file. So a writer also takes an open-file-description
/// write lock (F_OFD_SETLK: independent of flock() on Linux, and of HDF5's setting) and remembers
/// the device and inode it locked.
class OutputLock {
 public:
  OutputLock() = default;
  /// @brief Locks the file now at `path` (best effort: a file system without byte-range locks
  /// leaves HDF5's flock() as the only lock) and records its identity.
  explicit OutputLock(const std::filesystem::path& path);
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  // Nulling the source's descriptor prevents closing it (and dropping the lock) twice.
  OutputLock(OutputLock&& other) noexcept;
  OutputLock& operator=(OutputLock&& other) noexcept;
  ~OutputLock();

  /// @brief Follows a rename of the locked file (the identity stays, the expected path changes).
  void moved_to(std::filesystem::path path) { path_ = std::move(path); }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// @brief True when `path()` still names the locked file (not removed, not replaced).
  [[nodiscard]] bool still_at_path() const;
  /// @brief The descriptor of the locked file (e.g. to copy it out when it was unlinked).
  [[nodiscard]] int fd() const noexcept { return fd_; }
  /// @brief True when another process held the write lock already: a second writer.
  [[nodiscard]] bool conflicted() const noexcept { return conflicted_; }

  /// @brief Who holds the file at `path` open, by probing both locks without taking them.
  static Holder probe(const std::filesystem::path& path);

 private:
  void reset() noexcept;
  int fd_ = -1;
  bool conflicted_ = false;
  dev_t device_ = 0;
  ino_t inode_ = 0;
  std::filesystem::path path_;
};

}  // namespace taskfarm::io
