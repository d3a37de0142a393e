#pragma once

// Wire format between workers and the master. Plain bytes, no MPI here: the same encoding carries
// rank 0's own results to the writer thread, and it is unit-tested without mpiexec.
// Assumes a homogeneous cluster (same endianness and type sizes on every node), as MPI jobs do.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "taskfarm/core/task_range.hpp"

namespace taskfarm::farm {

class ReportBuffers;

/// @brief Message tags.
enum Tag : int {
  kTagReport = 1,  ///< worker → master: results (+ a request for more chunks)
  kTagAssign = 2,  ///< master → worker: chunks
  kTagStop = 3,    ///< master → worker: stop after the current task, report, leave
  kTagReclaim = 4,  ///< master → worker: give back this queued chunk if you have not started it
};

/// @brief Master → worker reclaim message: the chunk's [begin, end) positions.
constexpr int kReclaimWords = 2;

/// @brief Rounds up to a multiple of 8 so that every column block stays 8-byte aligned.
constexpr std::size_t pad8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }

/// @brief Timings of one finished chunk (times in seconds since the job started, per rank clock).
struct ChunkSummary {
  TaskRange range;
  double assigned = 0.0;
  double started = 0.0;
  double finished = 0.0;
  double compute_seconds = 0.0;
  double task_mean = 0.0;
  double task_variance = 0.0;
};

/// @brief Fixed header at the front of every report.
struct ReportHeader {
  static constexpr std::uint32_t kMagic = 0x54465231;  // "TFR1"
  static constexpr std::uint32_t kFinal = 1;           // the worker is done and leaves
  static constexpr std::uint32_t kStopped = 2;         // ... because it stopped on its own: the job stops
  static constexpr std::uint32_t kReclaimAnswer = 4;   // answers a reclaim of [reclaim_begin, reclaim_end)
  static constexpr std::uint32_t kGivenBack = 8;       // ... and gives that chunk back (else it keeps it)
  std::uint32_t magic = kMagic;
  std::uint32_t want = 0;   ///< chunks the worker asks for (0: results only, no reply expected)
  std::uint32_t flags = 0;
  std::uint32_t n_pieces = 0;
  std::uint32_t n_chunks = 0;
  std::uint32_t n_failures = 0;
  std::uint64_t trailer_offset = 0;  ///< where chunk summaries and failures start
  std::uint64_t reclaim_begin = 0;   ///< with kReclaimAnswer: the chunk asked back
  std::uint64_t reclaim_end = 0;
};

/// @brief Where the tasks of one piece go: per kernel field a block of n * bytes, then seconds, then state.
struct PieceSlots {
  std::vector<std::byte*> fields;
  double* seconds = nullptr;
  std::uint8_t* state = nullptr;
};

/// @brief Builds a report in place: kernels compute straight into the message buffer (no copy).
class ReportBuilder {
 public:
  /// @param field_bytes bytes per task of each kernel field
  /// @param spares where take() finds a buffer for the next report when it has none of its own
  /// (rank 0's compute thread, whose reports never come back to it); may be null
  explicit ReportBuilder(std::vector<std::size_t> field_bytes, ReportBuffers* spares = nullptr);

  /// @brief Appends a zeroed piece for `range`; the slots stay valid until the next add_piece/take.
  PieceSlots add_piece(TaskRange range);
  /// @brief Shrinks the last piece to [begin, new_end) (a piece that stopped early).
  void truncate_last_piece(TaskIndex new_end);
  void add_chunk(const ChunkSummary& summary) { chunks_.push_back(summary); }
  void add_failure(Position position, std::uint32_t attempt, std::string_view message);
  /// @brief The next report answers rank 0's reclaim of `range`: given back, or kept (started).
  void answer_reclaim(TaskRange range, bool given_back) {
    answer_ = range;
    answer_flags_ = ReportHeader::kReclaimAnswer | (given_back ? ReportHeader::kGivenBack : 0);
  }

  [[nodiscard]] bool empty() const noexcept {
    return n_pieces_ == 0 && chunks_.empty() && failures_.empty() && answer_flags_ == 0;
  }
  [[nodiscard]] std::size_t size_bytes() const noexcept { return buffer_.size(); }

  /// @brief Completes the report and hands it over; the builder starts afresh (in a recycled
  /// buffer when there is one).
  std::vector<std::byte> take(std::uint32_t want, std::uint32_t flags);
  /// @brief Gives back a taken report whose send has completed, so that the next report reuses
  /// its memory instead of faulting in fresh pages (tiny tasks: 20 bytes a task, 10^7 tasks/s).
  void recycle(std::vector<std::byte> bytes);

 private:
  [[nodiscard]] std::size_t piece_bytes(TaskIndex n) const noexcept;

  std::vector<std::size_t> field_bytes_;
  std::vector<std::byte> buffer_;
  std::vector<std::byte> spare_;  // a recycled buffer for the next report
  ReportBuffers* spares_;
  std::uint32_t n_pieces_ = 0;
  std::size_t last_piece_ = 0;  // offset of the last piece's header
  std::vector<ChunkSummary> chunks_;
  std::vector<std::byte> failures_;
  std::uint32_t n_failures_ = 0;
  TaskRange answer_;
  std::uint32_t answer_flags_ = 0;
};

/// @brief A piece seen in a received report (pointers into the report's bytes).
struct PieceView {
  TaskRange range;
  std::vector<const std::byte*> fields;
  const double* seconds = nullptr;
  const std::uint8_t* state = nullptr;
};

/// @brief One failed task attempt in a report.
struct FailureView {
  Position position;
  std::uint32_t attempt = 0;
  std::string_view message;
};

/// @brief A decoded report; views point into the bytes it was decoded from.
struct Report {
  ReportHeader header;
  std::vector<PieceView> pieces;
  std::vector<ChunkSummary> chunks;
  std::vector<FailureView> failures;
};

/// @brief Reads only the header (throws Error on a malformed message).
ReportHeader peek_header(std::span<const std::byte> bytes);
/// @brief Reads only the chunk summaries.
std::vector<ChunkSummary> decode_chunks(std::span<const std::byte> bytes);
/// @brief Reads only the failures.
std::vector<FailureView> decode_failures(std::span<const std::byte> bytes);
/// @brief Decodes everything; checks every length against the buffer.
Report decode_report(std::span<const std::byte> bytes, std::span<const std::size_t> field_bytes);

/// @brief A chunk as the master hands it out.
struct Assignment {
  TaskRange range;
  double assigned = 0.0;  ///< master clock, seconds since the job started
};

/// @brief Master → worker message: [flags, n, (begin, end, assigned-bits) × n] as uint64.
struct AssignMessage {
  static constexpr std::uint64_t kNoMoreWork = 1;
  std::uint64_t flags = 0;
  std::vector<Assignment> chunks;
};
std::vector<std::uint64_t> encode_assign(const AssignMessage& message);
AssignMessage decode_assign(std::span<const std::uint64_t> words);
/// @brief Words needed for a message of `n` chunks.
constexpr std::size_t assign_words(std::size_t n) noexcept { return 2 + 3 * n; }

}  // namespace taskfarm::farm
