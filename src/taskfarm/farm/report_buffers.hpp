#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

namespace taskfarm::farm {

/// @brief Rank 0's spare report buffers. The writer thread gives back every report it has written;
/// the MPI thread receives the next report into one and the compute thread builds its reports in
/// one. Without it each report (about 1 MiB of tiny tasks' results, hundreds a second) was a fresh
/// allocation in one thread, freed in another: pages faulted in afresh and glibc's arenas keeping
/// the freed blocks, so rank 0's RSS grew with the job's length while its live heap did not.
/// Keeps at most `max_buffers` buffers of at most `max_bytes` in all, none under kMinBytes (glibc
/// serves those from its bins at no cost); thread-safe.
class ReportBuffers {
 public:
  static constexpr std::size_t kMinBytes = std::size_t{64} << 10;

  ReportBuffers(std::size_t max_buffers, std::size_t max_bytes) : max_buffers_(max_buffers), max_bytes_(max_bytes) {}

  /// @brief A buffer of `size` bytes, contents unspecified: the smallest spare that holds them
  /// (no allocation, no page fault), else a new one.
  [[nodiscard]] std::vector<std::byte> take(std::size_t size);
  /// @brief Keeps `bytes` for a later take() if there is room (a larger buffer displaces the
  /// smallest kept); otherwise frees it.
  void give(std::vector<std::byte> bytes);

  [[nodiscard]] std::size_t kept_buffers() const;
  [[nodiscard]] std::size_t kept_bytes() const;

 private:
  std::size_t max_buffers_;
  std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::vector<std::vector<std::byte>> spare_;  // ascending capacity
  std::size_t bytes_ = 0;                      // their capacities' sum
};

}  // namespace taskfarm::farm
