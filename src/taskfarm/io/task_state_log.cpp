#include "taskfarm/io/task_state_log.hpp"

#include <algorithm>
#include <array>

namespace taskfarm::io {

namespace {
constexpr TaskIndex kBlock = TaskIndex{1} << 20;
}

void TaskStateLog::add_done(TaskRange range) {
  if (!done_.empty() && done_.back().end == range.begin) {
    done_.back().end = range.end;
  } else {
    done_.push_back(range);
  }
}

void TaskStateLog::commit(ResultsFile& file) {
  const auto failed = static_cast<std::uint8_t>(TaskState::failed);
  for (TaskIndex t : failed_) {
    file.write_tasks(file.state_column(), {t, t + 1}, &failed);
  }
  std::sort(done_.begin(), done_.end(), [](TaskRange a, TaskRange b) { return a.begin < b.begin; });
  std::vector<TaskRange> merged;
  for (TaskRange r : done_) {
    if (!merged.empty() && merged.back().end >= r.begin) {
      merged.back().end = std::max(merged.back().end, r.end);
    } else {
      merged.push_back(r);
    }
  }
  const std::vector<std::uint8_t> ones(std::min<TaskIndex>(kBlock, file.n_tasks()),
                                       static_cast<std::uint8_t>(TaskState::done));
  for (TaskRange r : merged) {
    for (TaskIndex b = r.begin; b < r.end; b += ones.size()) {
      file.write_tasks(file.state_column(), {b, std::min<TaskIndex>(r.end, b + ones.size())}, ones.data());
    }
  }
  done_.clear();
  failed_.clear();
}

std::vector<TaskRange> tasks_in_state(const ResultsFile& file, std::initializer_list<TaskState> states) {
  std::vector<TaskRange> out;
  std::vector<std::uint8_t> block(std::min<TaskIndex>(kBlock, file.n_tasks()));
  for (TaskIndex b = 0; b < file.n_tasks(); b += block.size()) {
    const TaskRange r{b, std::min<TaskIndex>(file.n_tasks(), b + block.size())};
    file.read_tasks(file.state_column(), r, block.data());
    for (TaskIndex t = r.begin; t < r.end; ++t) {
      const auto s = static_cast<TaskState>(block[t - b]);
      if (std::find(states.begin(), states.end(), s) == states.end()) {
        continue;
      }
      if (!out.empty() && out.back().end == t) {
        ++out.back().end;
      } else {
        out.push_back({t, t + 1});
      }
    }
  }
  return out;
}

std::array<std::uint64_t, 3> count_states(const ResultsFile& file) {
  std::array<std::uint64_t, 3> counts{0, 0, 0};
  std::vector<std::uint8_t> block(std::min<TaskIndex>(kBlock, file.n_tasks()));
  for (TaskIndex b = 0; b < file.n_tasks(); b += block.size()) {
    const TaskRange r{b, std::min<TaskIndex>(file.n_tasks(), b + block.size())};
    file.read_tasks(file.state_column(), r, block.data());
    for (TaskIndex i = 0; i < r.size(); ++i) {
      ++counts[std::min<std::uint8_t>(block[i], 2)];
    }
  }
  return counts;
}

}  // namespace taskfarm::io
