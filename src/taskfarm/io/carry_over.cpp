#include "taskfarm/io/carry_over.hpp"

#include <algorithm>
#include <cstring>

#include "taskfarm/job/param_space.hpp"

namespace taskfarm::io {

namespace {

/// The task a target receives, in target order: inverse of target_of (kNoTask: nothing comes).
std::vector<TaskIndex> sources_of(std::span<const TaskIndex> target_of, TaskIndex n_targets) {
  std::vector<TaskIndex> source(n_targets, job::kNoTask);
  for (TaskIndex t = 0; t < target_of.size(); ++t) {
    if (target_of[t] != job::kNoTask && target_of[t] < n_targets) {
      source[target_of[t]] = t;
    }
  }
  return source;
}

}  // namespace

CarryOver carry_over(const ResultsFile& from, ResultsFile& to, std::span<const TaskIndex> target_of,
                     std::span<const Damage> damage, const std::function<bool()>& cancelled) {
  CarryOver out;
  const bool identity = target_of.empty();
  const auto target = [&](TaskIndex t) { return identity ? t : target_of[t]; };

  std::vector<TaskRange> bad;  // damaged tasks of per-task columns (the /params are regenerated)
  bool failures_damaged = false;
  bool chunks_damaged = false;
  for (const Damage& d : damage) {
    if (d.dataset == "/failures") {
      failures_damaged = true;
    } else if (d.dataset == "/chunks") {
      chunks_damaged = true;
    } else if (!d.tasks.empty() && d.dataset.rfind("/params/", 0) != 0) {
      bad.push_back(d.tasks);
    }
  }

  // Which old tasks move: finished, outside every damaged block, with a place in the new job.
  const TaskIndex n = from.n_tasks();
  std::vector<std::uint8_t> state(n);
  std::vector<std::uint8_t> moves(n, 0);
  const TaskIndex rows = from.chunk_rows();
  for (TaskIndex b = 0; b < n; b += rows) {
    const TaskRange r{b, std::min(n, b + rows)};
    if (std::any_of(bad.begin(), bad.end(), [&](TaskRange d) { return !d.intersect(r).empty(); })) {
      out.damaged += r.size();
      continue;
    }
    from.read_tasks(from.state_column(), r, state.data() + b);
    for (TaskIndex t = r.begin; t < r.end; ++t) {
      if (static_cast<TaskState>(state[t]) == TaskState::pending) {
        continue;
      }
      if (target(t) == job::kNoTask || target(t) >= to.n_tasks()) {
        ++out.dropped;
        continue;
      }
      moves[t] = 1;
      (static_cast<TaskState>(state[t]) == TaskState::done ? out.done : out.failed) += 1;
    }
  }

  // Column by column: the old column in memory (what makes a scattered mapping cheap: every HDF5
  // chunk of the new file is written once, whole), the new one written window by window.
  const std::vector<TaskIndex> source = identity ? std::vector<TaskIndex>{} : sources_of(target_of, to.n_tasks());
  const TaskIndex window = to.chunk_rows();
  std::vector<std::byte> old_column;
  std::vector<std::byte> block;
  const auto any_moves = [&](TaskRange r) {
    return std::any_of(moves.begin() + static_cast<std::ptrdiff_t>(r.begin),
                       moves.begin() + static_cast<std::ptrdiff_t>(r.end), [](std::uint8_t m) { return m != 0; });
  };
  for (std::size_t c = 0; c < from.column_count(); ++c) {
    const std::size_t w = from.column_bytes(c);
    std::vector<std::byte> fill(w, std::byte{0});
    if (c == to.rank_column()) {  // /tasks/rank says -1 for "not computed"
      const std::int32_t none = -1;
      std::memcpy(fill.data(), &none, sizeof none);
    }
    if (identity) {  // same job, same chunking: window by window, nothing held beyond one chunk
      block.resize(rows * w);
      for (TaskIndex b = 0; b < n; b += rows) {
        const TaskRange r{b, std::min(n, b + rows)};
        if (cancelled && cancelled()) {
          throw Interrupted("stopped by a signal while carrying results into the new output");
        }
        if (!any_moves(r)) {
          continue;
        }
        from.read_tasks(c, r, block.data());
        for (TaskIndex t = r.begin; t < r.end; ++t) {
          if (moves[t] == 0) {
            std::memcpy(block.data() + (t - b) * w, fill.data(), w);
          }
        }
        to.write_tasks(c, r, block.data());
      }
      continue;
    }
    old_column.assign(n * w, std::byte{0});
    for (TaskIndex b = 0; b < n; b += rows) {
      const TaskRange r{b, std::min(n, b + rows)};
      if (any_moves(r)) {
        from.read_tasks(c, r, old_column.data() + b * w);
      }
    }
    block.resize(window * w);
    for (TaskIndex b = 0; b < to.n_tasks(); b += window) {
      if (cancelled && cancelled()) {
        throw Interrupted("stopped by a signal while carrying results into the new output");
      }
      const TaskRange r{b, std::min(to.n_tasks(), b + window)};
      bool any = false;
      for (TaskIndex u = r.begin; u < r.end; ++u) {
        const TaskIndex t = identity ? u : source[u];
        const bool carried = t != job::kNoTask && t < n && moves[t] != 0;
        std::memcpy(block.data() + (u - b) * w, carried ? old_column.data() + t * w : fill.data(), w);
        any = any || carried;
      }
      if (any) {
        to.write_tasks(c, r, block.data());
      }
    }
  }

  if (failures_damaged) {
    out.failures_table_lost = true;
  } else {
    std::vector<FailureRow> rows_out;
    for (FailureRow row : from.read_failures()) {
      if (row.task < n && target(row.task) != job::kNoTask && target(row.task) < to.n_tasks()) {
        row.task = target(row.task);
        rows_out.push_back(std::move(row));
      }
    }
    to.append_failures(rows_out);
  }
  if (identity && !chunks_damaged) {
    to.append_chunks(from.read_chunks());
  }
  to.flush();
  return out;
}

}  // namespace taskfarm::io
