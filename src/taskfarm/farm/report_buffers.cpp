#include "taskfarm/farm/report_buffers.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace taskfarm::farm {

namespace {

bool by_capacity(const std::vector<std::byte>& a, const std::vector<std::byte>& b) {
  return a.capacity() < b.capacity();
}

}  // namespace

std::vector<std::byte> ReportBuffers::take(std::size_t size) {
  std::vector<std::byte> out;
  {
    std::lock_guard lock(mutex_);
    const auto fit = std::find_if(spare_.begin(), spare_.end(), [&](const auto& b) { return b.capacity() >= size; });
    if (fit != spare_.end()) {
      out = std::move(*fit);
      spare_.erase(fit);
      bytes_ -= out.capacity();
    }
  }
  if (out.capacity() < size && size >= kMinBytes) {
    // A new one, rounded up to kMinBytes: reports of nearly the same size then fit each other's
    // buffers when they come back.
    out.reserve((size + kMinBytes - 1) / kMinBytes * kMinBytes);
  }
  // A given-back buffer keeps its old size: shrinking is free, and growing zero-fills only the
  // difference, never the whole buffer as a fresh vector(size) would.
  out.resize(size);
  return out;
}

void ReportBuffers::give(std::vector<std::byte> bytes) {
  const std::size_t capacity = bytes.capacity();
  if (capacity < kMinBytes || capacity > max_bytes_ || max_buffers_ == 0) {
    return;
  }
  std::vector<std::vector<std::byte>> dropped;  // freed outside the lock
  std::lock_guard lock(mutex_);
  // Room is made by dropping the smallest kept buffers, and only those smaller than this one;
  // if that is not enough, the pool stays as it is and this one is freed.
  std::size_t k = 0;
  std::size_t freed = 0;
  while (spare_.size() - k >= max_buffers_ || bytes_ - freed + capacity > max_bytes_) {
    if (k == spare_.size() || spare_[k].capacity() >= capacity) {
      return;
    }
    freed += spare_[k++].capacity();
  }
  const auto keep = spare_.begin() + static_cast<std::ptrdiff_t>(k);
  dropped.assign(std::make_move_iterator(spare_.begin()), std::make_move_iterator(keep));
  spare_.erase(spare_.begin(), keep);
  bytes_ = bytes_ - freed + capacity;
  spare_.insert(std::upper_bound(spare_.begin(), spare_.end(), bytes, by_capacity), std::move(bytes));
}

std::size_t ReportBuffers::kept_buffers() const {
  std::lock_guard lock(mutex_);
  return spare_.size();
}

std::size_t ReportBuffers::kept_bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace taskfarm::farm
