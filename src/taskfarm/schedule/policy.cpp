#include "taskfarm/schedule/policy.hpp"

#include <set>
#include <string>

#include "taskfarm/core/error.hpp"

namespace taskfarm::schedule {

namespace {

constexpr std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

/// Static block scheduling: each worker takes one block of ceil(N/P) tasks, once.
class StaticPolicy final : public Policy {
 public:
  StaticPolicy(std::uint64_t n, int p) : block_(ceil_div(n, static_cast<std::uint64_t>(p))) {}
  std::uint64_t next_size(std::uint64_t /*remaining*/, int worker) override {
    return served_.insert(worker).second ? block_ : 0;
  }

 private:
  std::uint64_t block_;
  std::set<int> served_;
};

/// Self-scheduling (Tang & Yew 1986): one task per request.
class SelfSchedulingPolicy final : public Policy {
 public:
  std::uint64_t next_size(std::uint64_t /*remaining*/, int /*worker*/) override { return 1; }
};

/// Fixed-size chunking (Kruskal & Weiss 1985): every chunk has the same size k.
class FixedSizePolicy final : public Policy {
 public:
  explicit FixedSizePolicy(std::uint64_t k) : k_(k) {}
  std::uint64_t next_size(std::uint64_t /*remaining*/, int /*worker*/) override { return k_; }

 private:
  std::uint64_t k_;
};

/// Guided self-scheduling (Polychronopoulos & Kuck 1987): chunk = ceil(R / P), R = remaining tasks.
class GuidedPolicy final : public Policy {
 public:
  explicit GuidedPolicy(int p) : p_(static_cast<std::uint64_t>(p)) {}
  std::uint64_t next_size(std::uint64_t remaining, int /*worker*/) override { return ceil_div(remaining, p_); }

 private:
  std::uint64_t p_;
};

/// Factoring, FAC2 (Hummel, Schonberg & Flynn 1992): batches of P equal chunks; each batch hands
/// out half of the tasks remaining at its start, chunk = ceil(R_j / (2P)).
class FactoringPolicy final : public Policy {
 public:
  explicit FactoringPolicy(int p) : p_(static_cast<std::uint64_t>(p)) {}
  std::uint64_t next_size(std::uint64_t remaining, int /*worker*/) override {
    if (left_in_batch_ == 0) {
      chunk_ = ceil_div(remaining, 2 * p_);
      left_in_batch_ = p_;
    }
    --left_in_batch_;
    return chunk_;
  }

 private:
  std::uint64_t p_;
  std::uint64_t chunk_ = 0;
  std::uint64_t left_in_batch_ = 0;
};

struct NamedKind {
  std::string_view name;
  PolicyKind kind;
};

constexpr NamedKind kNames[] = {
    {"static", PolicyKind::static_block}, {"ss", PolicyKind::ss},          {"self", PolicyKind::ss},
    {"fsc", PolicyKind::fsc},             {"fixed", PolicyKind::fsc},      {"gss", PolicyKind::gss},
    {"guided", PolicyKind::gss},          {"fac2", PolicyKind::fac2},      {"factoring", PolicyKind::fac2},
};

}  // namespace

std::optional<PolicyKind> parse_policy_kind(std::string_view name) {
  for (const auto& [n, k] : kNames) {
    if (n == name) {
      return k;
    }
  }
  return std::nullopt;
}

std::string_view policy_name(PolicyKind kind) {
  for (const auto& [n, k] : kNames) {
    if (k == kind) {
      return n;  // the first entry of each kind is its canonical name
    }
  }
  return "?";
}

std::string_view policy_names_help() {
  return "static, ss (self), fsc (fixed; needs chunk), gss (guided), fac2 (factoring)";
}

std::unique_ptr<Policy> make_policy(const PolicySpec& spec, std::uint64_t n_tasks, int n_workers) {
  if (n_workers < 1) {
    throw Error("a policy needs at least one worker");
  }
  switch (spec.kind) {
    case PolicyKind::static_block:
      return std::make_unique<StaticPolicy>(n_tasks, n_workers);
    case PolicyKind::ss:
      return std::make_unique<SelfSchedulingPolicy>();
    case PolicyKind::fsc:
      return std::make_unique<FixedSizePolicy>(spec.chunk);
    case PolicyKind::gss:
      return std::make_unique<GuidedPolicy>(n_workers);
    case PolicyKind::fac2:
      return std::make_unique<FactoringPolicy>(n_workers);
  }
  throw Error("unknown policy kind");
}

}  // namespace taskfarm::schedule
