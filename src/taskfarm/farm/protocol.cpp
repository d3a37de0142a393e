#include "taskfarm/farm/protocol.hpp"

#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/farm/report_buffers.hpp"

namespace taskfarm::farm {

namespace {

constexpr std::size_t kSmallReportSlack = 4096;  // unused capacity a taken report may keep

struct PieceHeader {
  std::uint64_t begin;
  std::uint64_t end;
};

struct FailureHeader {
  std::uint64_t task;
  std::uint32_t attempt;
  std::uint32_t length;
};

template <class T>
T read_at(std::span<const std::byte> bytes, std::size_t offset) {
  if (offset + sizeof(T) > bytes.size()) {
    throw Error(fmt::format("malformed report: {} bytes, read past the end at {}", bytes.size(), offset));
  }
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof(T));
  return v;
}

}  // namespace

ReportBuilder::ReportBuilder(std::vector<std::size_t> field_bytes, ReportBuffers* spares)
    : field_bytes_(std::move(field_bytes)), spares_(spares) {
  buffer_.resize(sizeof(ReportHeader));
}

std::size_t ReportBuilder::piece_bytes(TaskIndex n) const noexcept {
  std::size_t bytes = sizeof(PieceHeader);
  for (std::size_t b : field_bytes_) {
    bytes += pad8(n * b);
  }
  return bytes + n * sizeof(double) + pad8(n);
}

void ReportBuilder::recycle(std::vector<std::byte> bytes) {
  if (bytes.capacity() > spare_.capacity()) {
    spare_ = std::move(bytes);
  }
}

PieceSlots ReportBuilder::add_piece(TaskRange range) {
  const TaskIndex n = range.size();
  last_piece_ = buffer_.size();
  buffer_.resize(buffer_.size() + piece_bytes(n));  // zero-filled: failed tasks keep zeros
  const PieceHeader h{range.begin, range.end};
  std::memcpy(buffer_.data() + last_piece_, &h, sizeof h);
  std::size_t off = last_piece_ + sizeof h;
  PieceSlots slots;
  for (std::size_t b : field_bytes_) {
    slots.fields.push_back(buffer_.data() + off);
    off += pad8(n * b);
  }
  slots.seconds = reinterpret_cast<double*>(buffer_.data() + off);
  off += n * sizeof(double);
  slots.state = reinterpret_cast<std::uint8_t*>(buffer_.data() + off);
  ++n_pieces_;
  return slots;
}

void ReportBuilder::truncate_last_piece(TaskIndex new_end) {
  PieceHeader h;
  std::memcpy(&h, buffer_.data() + last_piece_, sizeof h);
  const TaskIndex old_n = h.end - h.begin;
  const TaskIndex new_n = new_end - h.begin;
  if (new_n == old_n) {
    return;
  }
  if (new_n == 0) {
    buffer_.resize(last_piece_);
    --n_pieces_;
    return;
  }
  // Compact the column blocks from the old layout into the new, shorter one.
  std::size_t src = last_piece_ + sizeof h;
  std::size_t dst = src;
  for (std::size_t b : field_bytes_) {
    std::memmove(buffer_.data() + dst, buffer_.data() + src, new_n * b);
    src += pad8(old_n * b);
    dst += pad8(new_n * b);
  }
  std::memmove(buffer_.data() + dst, buffer_.data() + src, new_n * sizeof(double));
  src += old_n * sizeof(double);
  dst += new_n * sizeof(double);
  std::memmove(buffer_.data() + dst, buffer_.data() + src, new_n);
  dst += pad8(new_n);
  buffer_.resize(dst);
  std::memset(buffer_.data() + dst - (pad8(new_n) - new_n), 0, pad8(new_n) - new_n);
  h.end = new_end;
  std::memcpy(buffer_.data() + last_piece_, &h, sizeof h);
}

void ReportBuilder::add_failure(Position position, std::uint32_t attempt, std::string_view message) {
  const FailureHeader h{position.value, attempt, static_cast<std::uint32_t>(message.size())};
  const std::size_t off = failures_.size();
  failures_.resize(off + sizeof h + pad8(message.size()));
  std::memcpy(failures_.data() + off, &h, sizeof h);
  std::memcpy(failures_.data() + off + sizeof h, message.data(), message.size());
  ++n_failures_;
}

std::vector<std::byte> ReportBuilder::take(std::uint32_t want, std::uint32_t flags) {
  ReportHeader h;
  h.want = want;
  h.flags = flags | answer_flags_;
  h.reclaim_begin = answer_.begin;
  h.reclaim_end = answer_.end;
  answer_flags_ = 0;
  h.n_pieces = n_pieces_;
  h.n_chunks = static_cast<std::uint32_t>(chunks_.size());
  h.n_failures = n_failures_;
  h.trailer_offset = buffer_.size();
  const std::size_t chunk_bytes = chunks_.size() * sizeof(ChunkSummary);
  buffer_.resize(buffer_.size() + chunk_bytes + failures_.size());
  if (chunk_bytes > 0) {  // memcpy from an empty vector's null data() is undefined even for 0 bytes
    std::memcpy(buffer_.data() + h.trailer_offset, chunks_.data(), chunk_bytes);
  }
  if (!failures_.empty()) {
    std::memcpy(buffer_.data() + h.trailer_offset + chunk_bytes, failures_.data(), failures_.size());
  }
  std::memcpy(buffer_.data(), &h, sizeof h);

  std::vector<std::byte> out;
  if (buffer_.capacity() > 2 * buffer_.size() + kSmallReportSlack) {
    // A small report in a large buffer (a request, or one task's result after a big piece): it
    // leaves in memory of its own size and the builder keeps the large buffer. A queue that bounds
    // memory by capacity (rank 0's writer) then holds many small reports, not megabytes of slack.
    out.assign(buffer_.begin(), buffer_.end());
    buffer_.clear();
  } else {
    out.swap(buffer_);
    if (spare_.capacity() >= out.size()) {
      buffer_.swap(spare_);
      buffer_.clear();
    } else if (spares_ != nullptr) {
      buffer_ = spares_->take(out.size());
      buffer_.clear();
    } else {
      buffer_.reserve(out.capacity());
    }
  }
  buffer_.resize(sizeof(ReportHeader));
  n_pieces_ = 0;
  chunks_.clear();
  failures_.clear();
  n_failures_ = 0;
  return out;
}

ReportHeader peek_header(std::span<const std::byte> bytes) {
  const auto h = read_at<ReportHeader>(bytes, 0);
  if (h.magic != ReportHeader::kMagic) {
    throw Error("malformed report: bad magic number");
  }
  if (h.trailer_offset > bytes.size()) {
    throw Error("malformed report: trailer offset past the end");
  }
  return h;
}

std::vector<ChunkSummary> decode_chunks(std::span<const std::byte> bytes) {
  const ReportHeader h = peek_header(bytes);
  std::vector<ChunkSummary> chunks(h.n_chunks);
  if (h.trailer_offset + chunks.size() * sizeof(ChunkSummary) > bytes.size()) {
    throw Error("malformed report: chunk summaries past the end");
  }
  if (!chunks.empty()) {
    std::memcpy(chunks.data(), bytes.data() + h.trailer_offset, chunks.size() * sizeof(ChunkSummary));
  }
  return chunks;
}

Report decode_report(std::span<const std::byte> bytes, std::span<const std::size_t> field_bytes) {
  Report r;
  r.header = peek_header(bytes);
  std::size_t off = sizeof(ReportHeader);
  for (std::uint32_t p = 0; p < r.header.n_pieces; ++p) {
    const auto ph = read_at<PieceHeader>(bytes, off);
    if (ph.end < ph.begin) {
      throw Error("malformed report: piece with end < begin");
    }
    const TaskIndex n = ph.end - ph.begin;
    PieceView v;
    v.range = {ph.begin, ph.end};
    off += sizeof ph;
    for (std::size_t b : field_bytes) {
      v.fields.push_back(bytes.data() + off);
      off += pad8(n * b);
    }
    v.seconds = reinterpret_cast<const double*>(bytes.data() + off);
    off += n * sizeof(double);
    v.state = reinterpret_cast<const std::uint8_t*>(bytes.data() + off);
    off += pad8(n);
    if (off > r.header.trailer_offset) {
      throw Error("malformed report: piece runs into the trailer");
    }
    r.pieces.push_back(std::move(v));
  }
  r.chunks = decode_chunks(bytes);
  r.failures = decode_failures(bytes);
  return r;
}

std::vector<FailureView> decode_failures(std::span<const std::byte> bytes) {
  const ReportHeader h = peek_header(bytes);
  std::vector<FailureView> out;
  std::size_t off = h.trailer_offset + h.n_chunks * sizeof(ChunkSummary);
  for (std::uint32_t i = 0; i < h.n_failures; ++i) {
    const auto fh = read_at<FailureHeader>(bytes, off);
    off += sizeof fh;
    if (off + fh.length > bytes.size()) {
      throw Error("malformed report: failure message past the end");
    }
    out.push_back({Position{fh.task}, fh.attempt, std::string_view(reinterpret_cast<const char*>(bytes.data() + off), fh.length)});
    off += pad8(fh.length);
  }
  return out;
}

std::vector<std::uint64_t> encode_assign(const AssignMessage& message) {
  std::vector<std::uint64_t> w;
  w.reserve(assign_words(message.chunks.size()));
  w.push_back(message.flags);
  w.push_back(message.chunks.size());
  for (const Assignment& a : message.chunks) {
    w.push_back(a.range.begin);
    w.push_back(a.range.end);
    w.push_back(std::bit_cast<std::uint64_t>(a.assigned));
  }
  return w;
}

AssignMessage decode_assign(std::span<const std::uint64_t> words) {
  if (words.size() < 2 || words.size() != assign_words(words[1])) {
    throw Error(fmt::format("malformed assignment message of {} words", words.size()));
  }
  AssignMessage m;
  m.flags = words[0];
  for (std::size_t i = 0; i < words[1]; ++i) {
    const std::uint64_t* a = words.data() + 2 + 3 * i;
    m.chunks.push_back({{a[0], a[1]}, std::bit_cast<double>(a[2])});
  }
  return m;
}

}  // namespace taskfarm::farm
