#include "taskfarm/io/carry_over.hpp"

#include <algorithm>
#include <numeric>

#include "taskfarm/io/task_write_buffer.hpp"
#include "taskfarm/job/param_space.hpp"

namespace taskfarm::io {

CarryOver carry_over(const ResultsFile& from, ResultsFile& to, std::span<const TaskIndex> target_of,
                     std::span<const Damage> damage) {
  CarryOver out;
  const std::size_t nc = from.column_count();
  std::vector<std::size_t> all(nc);
  std::iota(all.begin(), all.end(), std::size_t{0});
  TaskWriteBuffer buffer(to, all);

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
  const auto is_bad = [&](TaskRange r) {
    return std::any_of(bad.begin(), bad.end(), [&](TaskRange b) { return !b.intersect(r).empty(); });
  };

  const TaskIndex rows = from.chunk_rows();
  std::vector<std::vector<std::byte>> block(nc);
  std::vector<const std::byte*> run(nc);
  for (TaskIndex b = 0; b < from.n_tasks(); b += rows) {
    const TaskRange r{b, std::min(from.n_tasks(), b + rows)};
    if (is_bad(r)) {
      out.damaged += r.size();
      continue;
    }
    for (std::size_t c = 0; c < nc; ++c) {
      block[c].resize(r.size() * from.column_bytes(c));
      from.read_tasks(c, r, block[c].data());
    }
    const auto* state = reinterpret_cast<const std::uint8_t*>(block[from.state_column()].data());
    // Runs of finished tasks whose targets are consecutive: one put() each.
    for (TaskIndex k = 0; k < r.size();) {
      const auto s = static_cast<TaskState>(state[k]);
      if (s == TaskState::pending) {
        ++k;
        continue;
      }
      const TaskIndex t0 = target_of[r.begin + k];
      if (t0 == job::kNoTask) {
        ++out.dropped;
        ++k;
        continue;
      }
      TaskIndex e = k + 1;
      while (e < r.size() && static_cast<TaskState>(state[e]) != TaskState::pending &&
             target_of[r.begin + e] == t0 + (e - k)) {
        ++e;
      }
      for (std::size_t c = 0; c < nc; ++c) {
        run[c] = block[c].data() + k * from.column_bytes(c);
      }
      buffer.put({t0, t0 + (e - k)}, run);
      for (TaskIndex j = k; j < e; ++j) {
        (static_cast<TaskState>(state[j]) == TaskState::done ? out.done : out.failed) += 1;
      }
      k = e;
    }
  }
  buffer.flush();

  if (failures_damaged) {
    out.failures_table_lost = true;
  } else {
    std::vector<FailureRow> rows_out;
    for (FailureRow row : from.read_failures()) {
      if (row.task < target_of.size() && target_of[row.task] != job::kNoTask) {
        row.task = target_of[row.task];
        rows_out.push_back(std::move(row));
      }
    }
    to.append_failures(rows_out);
  }
  bool identity = from.n_tasks() == to.n_tasks();
  for (TaskIndex t = 0; identity && t < target_of.size(); ++t) {
    identity = target_of[t] == t;
  }
  if (identity && !chunks_damaged) {
    to.append_chunks(from.read_chunks());
  }
  to.flush();
  return out;
}

}  // namespace taskfarm::io
