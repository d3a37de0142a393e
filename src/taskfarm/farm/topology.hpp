#pragma once

#include <vector>

namespace taskfarm::farm {

/// @brief Who schedules whom. Flat: rank 0 serves every rank. With G >= 2 groups, ranks split into G
/// contiguous groups; each group's first rank is its group master (rank 0 for group 0), which takes
/// large chunks from rank 0 and hands smaller ones to its members. Results always go to rank 0.
class Topology {
 public:
  /// @param groups requested groups; 0 or 1 (or a run too small for groups) means flat
  Topology(int size, int groups) : size_(size), groups_(groups >= 2 && 2 * groups <= size ? groups : 1) {}

  [[nodiscard]] bool flat() const noexcept { return groups_ == 1; }
  [[nodiscard]] int groups() const noexcept { return groups_; }
  [[nodiscard]] int group_of(int rank) const noexcept {
    return static_cast<int>(static_cast<long long>(rank) * groups_ / size_);
  }
  /// @brief First rank of group g.
  [[nodiscard]] int group_master(int g) const noexcept {
    return static_cast<int>((static_cast<long long>(g) * size_ + groups_ - 1) / groups_);
  }
  [[nodiscard]] bool is_group_master(int rank) const noexcept {
    return rank != 0 && group_master(group_of(rank)) == rank;
  }
  /// @brief Where `rank` sends its requests for chunks.
  [[nodiscard]] int scheduler_of(int rank) const noexcept { return group_master(group_of(rank)); }
  /// @brief The members of group g other than its master.
  [[nodiscard]] std::vector<int> members(int g) const {
    std::vector<int> out;
    for (int r = group_master(g) + 1; r < size_ && group_of(r) == g; ++r) {
      out.push_back(r);
    }
    return out;
  }

 private:
  int size_;
  int groups_;
};

}  // namespace taskfarm::farm
