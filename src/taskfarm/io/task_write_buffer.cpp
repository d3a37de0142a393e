#include "taskfarm/io/task_write_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace taskfarm::io {

TaskWriteBuffer::TaskWriteBuffer(ResultsFile& file, std::vector<std::size_t> columns, std::size_t max_open_windows)
    : file_(file),
      columns_(std::move(columns)),
      rows_(file.chunk_rows()),
      max_open_(std::max<std::size_t>(1, max_open_windows)) {
  for (std::size_t c : columns_) {
    bytes_.push_back(file_.column_bytes(c));
    whole_.push_back(file_.writes_whole_chunks(c));
  }
}

void TaskWriteBuffer::put(TaskRange range, std::span<const std::byte* const> data) {
  const std::size_t ncol = columns_.size();
  for (TaskIndex wi = range.begin / rows_; wi * rows_ < range.end; ++wi) {
    const TaskRange wr{wi * rows_, std::min((wi + 1) * rows_, file_.n_tasks())};
    const TaskRange part = wr.intersect(range);
    const TaskIndex offset = part.begin - range.begin;
    auto it = open_.find(wi);
    if (it == open_.end()) {
      Window w;
      if (!spare_.empty()) {  // reuse a written window's memory: no page faults, no zero fill
        w = std::move(spare_.back());
        spare_.pop_back();
      }
      w.range = wr;
      w.count = 0;
      w.columns.resize(ncol);
      for (std::size_t c = 0; c < ncol; ++c) {
        // A whole chunk as stored: all rows (the last window's rows past n_tasks zero, so the file
        // is the same whatever the memory held), then room for its checksum.
        w.columns[c].resize(whole_[c] ? rows_ * bytes_[c] + ResultsFile::kChecksumBytes : wr.size() * bytes_[c]);
        if (whole_[c] && wr.size() < rows_) {
          std::fill(w.columns[c].begin() + static_cast<std::ptrdiff_t>(wr.size() * bytes_[c]), w.columns[c].end(),
                    std::byte{0});
        }
      }
      w.have.assign(wr.size(), 0);
      it = open_.emplace(wi, std::move(w)).first;
    }
    Window& w = it->second;
    for (std::size_t c = 0; c < ncol; ++c) {
      const std::size_t b = bytes_[c];
      std::memcpy(w.columns[c].data() + (part.begin - wr.begin) * b, data[c] + offset * b, part.size() * b);
    }
    // Tasks new to the window (a retried task may come twice), then all marked: two vector passes.
    const auto have = w.have.begin() + static_cast<std::ptrdiff_t>(part.begin - wr.begin);
    const auto have_end = have + static_cast<std::ptrdiff_t>(part.size());
    w.count += static_cast<TaskIndex>(std::count(have, have_end, std::uint8_t{0}));
    std::fill(have, have_end, std::uint8_t{1});
    if (w.count == wr.size()) {
      write_runs(w);
      retire(it);
    }
  }
  while (open_.size() > max_open_) {
    write_runs(open_.begin()->second);
    retire(open_.begin());
  }
}

void TaskWriteBuffer::retire(std::map<TaskIndex, Window>::iterator it) {
  if (spare_.size() < kSpareWindows) {
    spare_.push_back(std::move(it->second));
  }
  open_.erase(it);
}

void TaskWriteBuffer::write_runs(Window& w) {
  const std::size_t n = w.range.size();
  if (w.count == n) {  // complete: each column in one write, whole chunks as they are stored
    for (std::size_t c = 0; c < w.columns.size(); ++c) {
      if (whole_[c]) {
        file_.write_chunk(columns_[c], w.range.begin, w.columns[c]);
      } else {
        file_.write_tasks(columns_[c], w.range, w.columns[c].data());
      }
    }
    writes_ += w.columns.size();
    return;
  }
  // Runs of received tasks; a window evicted early may hold a few tasks among 131072 rows, so the
  // gaps and runs are found with memchr (have[] is 0 or 1), not a byte at a time.
  const std::uint8_t* have = w.have.data();
  for (std::size_t i = 0; i < n;) {
    const void* first = std::memchr(have + i, 1, n - i);
    if (first == nullptr) {
      break;
    }
    i = static_cast<std::size_t>(static_cast<const std::uint8_t*>(first) - have);
    const void* gap = std::memchr(have + i, 0, n - i);
    const std::size_t j = gap == nullptr ? n : static_cast<std::size_t>(static_cast<const std::uint8_t*>(gap) - have);
    const TaskRange run{w.range.begin + i, w.range.begin + j};
    for (std::size_t c = 0; c < w.columns.size(); ++c) {
      file_.write_tasks(columns_[c], run, w.columns[c].data() + i * bytes_[c]);
    }
    writes_ += w.columns.size();
    i = j;
  }
}

void TaskWriteBuffer::flush() {
  for (auto& [wi, w] : open_) {
    write_runs(w);
  }
  open_.clear();
}

}  // namespace taskfarm::io
