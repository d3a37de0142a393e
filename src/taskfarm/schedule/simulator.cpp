#include "taskfarm/schedule/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/schedule/chunk_dispatcher.hpp"

namespace taskfarm::schedule {

namespace {

// The real worker's and master's constants (farm/worker.cpp, farm/master.cpp), modelled with the
// same values.
constexpr std::uint32_t kMaxWant = 4096;    // chunks per request
constexpr double kHorizonSlack = 50e-6;     // seconds added to two round trips
constexpr double kRttAlpha = 0.3;
constexpr double kTaskTimeAlpha = 0.2;
constexpr double kChunkTasksAlpha = 0.3;
constexpr double kPieceSeconds = 0.25;      // a worker looks at the network at least this often
constexpr double kResultSeconds = 1.0;      // and sends its results at least this often
constexpr double kLocalPushSeconds = 0.2;   // rank 0's compute thread hands its results over this often
constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();

constexpr std::size_t kNoRow = std::numeric_limits<std::size_t>::max();

double ewma(double old, double sample, double alpha) { return old < 0 ? sample : old + alpha * (sample - old); }

/// Running mean and M2 of task seconds (Welford 1962), merged across chunks by Chan, Golub &
/// LeVeque (1979), "Updating formulae and a pairwise algorithm for computing sample variances".
struct Moments {
  std::uint64_t n = 0;
  double mean = 0.0;
  double m2 = 0.0;
  void add(double x) noexcept {
    ++n;
    const double d = x - mean;
    mean += d / static_cast<double>(n);
    m2 += d * (x - mean);
  }
  void merge(std::uint64_t nb, double mean_b, double m2_b) noexcept {
    if (nb == 0) {
      return;
    }
    const std::uint64_t total = n + nb;
    const double d = mean_b - mean;
    mean += d * static_cast<double>(nb) / static_cast<double>(total);
    m2 += m2_b + d * d * static_cast<double>(n) * static_cast<double>(nb) / static_cast<double>(total);
    n = total;
  }
  [[nodiscard]] double variance() const noexcept { return n > 1 ? m2 / static_cast<double>(n - 1) : 0.0; }
};

struct Assigned {
  TaskRange range;
  double assigned = 0.0;     // when its master decided
  std::size_t row = kNoRow;  // index into the chunk rows
};

/// A worker's chunks in hand, oldest first. Not a std::deque: that allocates ~600 bytes per worker
/// up front, too much for 10^6 simulated ranks.
class ChunkQueue {
 public:
  [[nodiscard]] bool empty() const noexcept { return head_ == items_.size(); }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size() - head_; }
  [[nodiscard]] const Assigned& front() const noexcept { return items_[head_]; }
  void push_back(const Assigned& a) { items_.push_back(a); }
  void pop_front() {
    if (++head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ >= 64 && 2 * head_ >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));  // amortised O(1)
      head_ = 0;
    }
  }

 private:
  std::vector<Assigned> items_;
  std::size_t head_ = 0;
};

/// A message in flight or waiting at a master. Slots are recycled, so their vectors keep their
/// capacity and a steady-state run allocates nothing per message.
struct Message {
  int from = -1;           // worker id, or (to the root) group index
  bool refill = false;     // the root's reply to a group master
  bool no_more = false;    // reply: nothing more for the receiver
  bool final = false;      // a worker's last message
  std::uint32_t want = 0;  // chunks asked for
  std::vector<ChunkReport> reports;
  std::vector<Assigned> chunks;
};

/// A root chunk a group master has not yet seen all reports of.
struct Outstanding {
  TaskRange range;
  double overhead = 0.0;  // from the root's decision to the group master taking it up
  TaskIndex left = 0;
  double compute_seconds = 0.0;
  Moments moments;
};

struct Master {
  int rank = 0;
  double service = 0.0;
  int n_workers = 0;  // the policy's workers
  std::unique_ptr<ChunkDispatcher> dispatcher;
  std::deque<std::uint32_t> fifo;  // message slots waiting to be taken up
  bool busy = false;
  double busy_seconds = 0.0;
  double last_done = 0.0;
  std::uint64_t messages = 0;
  int local = -1;  // worker id of its compute thread
  // Group masters only.
  int group = -1;
  bool refill_in_flight = false;
  bool parent_done = false;
  std::vector<std::uint32_t> deferred;  // member requests waiting for the next root chunk
  std::vector<Outstanding> outstanding;
  std::vector<ChunkReport> root_reports;  // for the next request to the root
};

struct Worker {
  int rank = 0;
  int master = 0;
  int index = 0;  // the policy's worker number
  double speed = 1.0;
  bool local = false;  // a master's compute thread: no messages
  ChunkQueue queue;
  TaskIndex cursor = 0;      // next task of queue.front()
  TaskIndex stop = 0;        // end of the segment being computed
  TaskIndex rest_tasks = 0;  // tasks in queue[1..]
  bool in_flight = false;
  bool no_more = false;
  bool waiting = false;  // idle, polling for a reply (or, local, for the next root chunk)
  std::uint32_t arrived = kNoSlot;  // a reply that came while computing: seen after the piece
  double sent_at = 0.0;
  double last_send = 0.0;  // local: last time its reports were handed to the master
  double rtt = -1.0;
  double task_time = -1.0;
  double chunk_tasks = -1.0;
  double chunk_started = 0.0;
  double segment_seconds = 0.0;
  Moments chunk_moments;
  std::vector<ChunkReport> unreported;
};

enum class EventKind : std::uint8_t { arrive, serve_done, reply, segment_done, wake };

struct Event {
  double time;
  std::uint64_t seq;  // ties go first come, first served: the run is deterministic
  EventKind kind;
  std::uint32_t target;
  std::uint32_t slot;
};

struct Later {
  bool operator()(const Event& a, const Event& b) const noexcept {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }
};

/// An outgoing message of a service: it leaves when the service ends.
struct Outgoing {
  bool to_worker;
  int target;
  std::uint32_t slot;
};

void check_config(const SimConfig& c) {
  const auto finite_non_negative = [](double x) { return std::isfinite(x) && x >= 0; };
  if (c.ranks < 1) {
    throw InputError(fmt::format("simulate: ranks: expected at least 1, got {}", c.ranks));
  }
  if (!finite_non_negative(c.service) || !finite_non_negative(c.service_per_chunk) ||
      !finite_non_negative(c.latency) || !std::isfinite(c.group_service)) {
    throw InputError("simulate: service, service per chunk and latency must be finite and >= 0");
  }
  if (c.groups < 0) {
    throw InputError(fmt::format("simulate: groups: expected 0 (flat) or more, got {}", c.groups));
  }
  if (c.groups > 0) {
    const int most = c.master_computes ? c.ranks - 1 : (c.ranks - 1) / 2;
    if (c.groups > most) {
      throw InputError(fmt::format("simulate: {} groups on {} ranks leave a group with no computing rank (at most {} "
                                   "{})",
                                   c.groups, c.ranks, most,
                                   c.master_computes ? "groups: one per rank besides rank 0"
                                                     : "groups: a group master and a worker each"));
    }
  }
  if (c.prefetch == SimPrefetch::fixed && (c.prefetch_chunks < 1 || c.prefetch_chunks > kMaxWant - 1)) {
    throw InputError(fmt::format("simulate: prefetch: expected 1..{} chunks, got {}", kMaxWant - 1, c.prefetch_chunks));
  }
  if (!c.speed.empty()) {
    if (c.speed.size() != static_cast<std::size_t>(c.ranks)) {
      throw InputError(fmt::format("simulate: {} speed factors for {} ranks", c.speed.size(), c.ranks));
    }
    for (std::size_t r = 0; r < c.speed.size(); ++r) {
      if (!(std::isfinite(c.speed[r]) && c.speed[r] > 0)) {
        throw InputError(fmt::format("simulate: rank {}: speed factor {} is not a positive number", r, c.speed[r]));
      }
    }
  }
}

class Simulation {
 public:
  Simulation(const SimConfig& config, TaskIndex n_tasks, const TaskCost& cost)
      : config_(config), n_tasks_(n_tasks), cost_(cost) {
    check_config(config_);
    if (!cost_) {
      throw InputError("simulate: no task cost function");
    }
    build();
  }

  SimResult run() {
    start();
    while (!events_.empty()) {
      const Event e = events_.top();
      events_.pop();
      switch (e.kind) {
        case EventKind::arrive:
          arrive(static_cast<int>(e.target), e.slot, e.time);
          break;
        case EventKind::serve_done:
          serve_done(static_cast<int>(e.target), e.time);
          break;
        case EventKind::reply:
          receive_reply(static_cast<int>(e.target), e.slot, e.time);
          break;
        case EventKind::segment_done:
          segment_done(static_cast<int>(e.target), e.time);
          break;
        case EventKind::wake:
          wake(static_cast<int>(e.target), e.time);
          break;
      }
    }
    if (tasks_done_ != n_tasks_) {
      throw Error(fmt::format("simulate: the farm stalled with {} of {} tasks computed (a policy handed out nothing "
                              "while tasks remained)",
                              tasks_done_, n_tasks_));
    }
    return result();
  }

 private:
  [[nodiscard]] bool hierarchical() const noexcept { return config_.groups > 0; }
  [[nodiscard]] bool is_group(const Master& m) const noexcept { return m.group >= 0; }

  void build() {
    const int p = config_.ranks;
    const auto speed = [&](int rank) { return config_.speed.empty() ? 1.0 : config_.speed[rank]; };
    const bool mc = config_.master_computes || p == 1;
    const std::vector<TaskRange> all{{0, n_tasks_}};
    if (!hierarchical()) {
      Master& root = masters_.emplace_back();
      root.service = config_.service;
      root.n_workers = p - 1 + (mc ? 1 : 0);
      root.dispatcher = std::make_unique<ChunkDispatcher>(config_.policy, all, root.n_workers);
      if (mc) {
        root.local = add_worker(0, 0, 0, speed(0), true);
      }
      for (int r = 1; r < p; ++r) {
        add_worker(r, 0, mc ? r : r - 1, speed(r), false);
      }
      computing_ranks_ = root.n_workers;
      return;
    }
    const int g_count = config_.groups;
    Master& root = masters_.emplace_back();
    root.service = config_.service;
    root.n_workers = g_count;
    root.dispatcher = std::make_unique<ChunkDispatcher>(config_.root_policy, all, g_count);
    const double group_service = config_.group_service < 0 ? config_.service : config_.group_service;
    const int others = p - 1;
    int first = 1;
    for (int g = 0; g < g_count; ++g) {
      const int size = others / g_count + (g < others % g_count ? 1 : 0);
      const int id = static_cast<int>(masters_.size());
      Master& m = masters_.emplace_back();
      m.rank = first;
      m.group = g;
      m.service = group_service;
      m.n_workers = size - 1 + (mc ? 1 : 0);
      if (mc) {
        masters_[id].local = add_worker(first, id, 0, speed(first), true);
      }
      for (int k = 1; k < size; ++k) {
        add_worker(first + k, id, (mc ? 0 : -1) + k, speed(first + k), false);
      }
      computing_ranks_ += masters_[id].n_workers;
      first += size;
    }
  }

  int add_worker(int rank, int master, int index, double speed, bool local) {
    Worker& w = workers_.emplace_back();
    w.rank = rank;
    w.master = master;
    w.index = index;
    w.speed = speed;
    w.local = local;
    return static_cast<int>(workers_.size() - 1);
  }

  /// Every rank starts at time 0, in rank order.
  void start() {
    std::size_t next_worker = 0;
    for (int m = 1; m < static_cast<int>(masters_.size()); ++m) {
      // Workers of lower ranks first, then the group master's request to the root.
      while (next_worker < workers_.size() && workers_[next_worker].rank < masters_[m].rank) {
        start_worker(static_cast<int>(next_worker++));
      }
      maybe_refill(m, 0.0);
    }
    while (next_worker < workers_.size()) {
      start_worker(static_cast<int>(next_worker++));
    }
  }

  void start_worker(int w) {
    if (workers_[w].local) {
      step(w, 0.0);
      return;
    }
    send(w, config_.prefetch == SimPrefetch::fixed ? config_.prefetch_chunks + 1 : 1, false, 0.0);
    workers_[w].waiting = true;
  }

  void push(double time, EventKind kind, int target, std::uint32_t slot = 0) {
    events_.push({time, seq_++, kind, static_cast<std::uint32_t>(target), slot});
  }

  std::uint32_t new_message() {
    if (free_.empty()) {
      messages_.emplace_back();
      return static_cast<std::uint32_t>(messages_.size() - 1);
    }
    const std::uint32_t slot = free_.back();
    free_.pop_back();
    return slot;
  }

  void free_message(std::uint32_t slot) {
    Message& m = messages_[slot];
    m.from = -1;
    m.refill = m.no_more = m.final = false;
    m.want = 0;
    m.reports.clear();
    m.chunks.clear();
    free_.push_back(slot);
  }

  std::size_t record(TaskRange range, int rank, double now) {
    ++chunks_;
    if (!config_.record_chunks) {
      return kNoRow;
    }
    rows_.push_back({range.begin, range.end, rank, now, 0.0, 0.0});
    return rows_.size() - 1;
  }

  // ---- workers -------------------------------------------------------------------------------

  /// A worker's message to its master (requests ask for `want` > 0 chunks); it carries the reports
  /// of the chunks finished since the last one.
  void send(int w, std::uint32_t want, bool final, double now) {
    Worker& wk = workers_[w];
    const std::uint32_t slot = new_message();
    Message& msg = messages_[slot];
    msg.from = w;
    msg.want = want;
    msg.final = final;
    msg.reports.swap(wk.unreported);  // the worker keeps the slot's empty vector and its capacity
    if (want > 0) {
      wk.in_flight = true;
      wk.sent_at = now;
    }
    wk.last_send = now;
    push(now + config_.latency, EventKind::arrive, wk.master, slot);
  }

  [[nodiscard]] std::uint32_t auto_want(const Worker& wk) const {
    const double horizon = 2.0 * std::max(wk.rtt, 0.0) + kHorizonSlack;
    const double chunk_time = std::max(wk.chunk_tasks, 1.0) * std::max(wk.task_time, 1e-9);
    return static_cast<std::uint32_t>(std::clamp(std::ceil(horizon / chunk_time), 1.0, double{kMaxWant}));
  }

  /// What a worker does between pieces of computing: the real worker's main loop (farm/worker.cpp),
  /// or rank 0's compute thread (farm/master.cpp, compute_locally).
  void step(int w, double now) {
    Worker& wk = workers_[w];
    if (wk.arrived != kNoSlot) {
      const std::uint32_t slot = std::exchange(wk.arrived, kNoSlot);
      take_reply(w, slot, now);
    }
    if (wk.queue.empty()) {
      if (wk.local) {
        if (!take_local(w, now)) {
          return;
        }
      } else {
        if (wk.no_more && !wk.in_flight) {
          send(w, 0, true, now);
          return;
        }
        if (!wk.in_flight) {
          send(w,
               config_.prefetch == SimPrefetch::fixed       ? config_.prefetch_chunks + 1
               : config_.prefetch == SimPrefetch::automatic ? auto_want(wk)
                                                            : 1,
               false, now);
        }
        wk.waiting = true;
        return;
      }
    }
    const Assigned& a = wk.queue.front();
    if (wk.cursor == a.range.begin) {
      wk.chunk_started = now;
      wk.chunk_moments = {};
      if (a.row != kNoRow) {
        rows_[a.row].started = now;
      }
    }
    TaskIndex stop = a.range.end;
    if (!wk.local && !wk.in_flight && !wk.no_more) {
      const TaskIndex left = (a.range.end - wk.cursor) + wk.rest_tasks;
      if (config_.prefetch == SimPrefetch::fixed) {
        const auto beyond = static_cast<std::uint32_t>(wk.queue.size() - 1);
        if (beyond < config_.prefetch_chunks) {
          send(w, config_.prefetch_chunks - beyond, false, now);
        }
      } else if (config_.prefetch == SimPrefetch::automatic) {
        if (wk.task_time < 0) {
          stop = wk.cursor + 1;  // time one task before deciding when to ask
        } else {
          const double horizon = 2.0 * std::max(wk.rtt, 0.0) + kHorizonSlack;
          const double tasks = std::min(std::ceil(horizon / std::max(wk.task_time, 1e-9)), 1e18);
          const auto trigger = static_cast<TaskIndex>(tasks);
          if (left <= trigger + 1) {
            send(w, auto_want(wk), false, now);
          } else {
            stop = std::min(stop, wk.cursor + (left - trigger - 1));
          }
        }
      }
    }
    // One piece: tasks until `stop`, or until the piece has taken kPieceSeconds (at least one task).
    double seconds = 0.0;
    TaskIndex t = wk.cursor;
    while (t < stop) {
      const double c = cost_(t);
      if (!(std::isfinite(c) && c >= 0)) {
        throw InputError(fmt::format("simulate: task {} costs {} s; expected a finite number >= 0", t, c));
      }
      total_cost_ += c;
      const double x = c * wk.speed;
      seconds += x;
      wk.chunk_moments.add(x);
      ++t;
      if (seconds >= kPieceSeconds) {
        break;
      }
    }
    wk.stop = t;
    wk.segment_seconds = seconds;
    push(now + seconds, EventKind::segment_done, w);
  }

  void segment_done(int w, double now) {
    Worker& wk = workers_[w];
    const TaskIndex done = wk.stop - wk.cursor;
    tasks_done_ += done;
    wk.task_time = ewma(wk.task_time, wk.segment_seconds / static_cast<double>(done), kTaskTimeAlpha);
    wk.cursor = wk.stop;
    if (wk.local && now - wk.last_send >= kLocalPushSeconds) {
      hand_over(w, now);  // before this chunk is added, as compute_locally does
    }
    const Assigned a = wk.queue.front();
    if (wk.cursor == a.range.end) {
      makespan_ = std::max(makespan_, now);
      if (a.row != kNoRow) {
        rows_[a.row].finished = now;
      }
      wk.unreported.push_back({wk.index, a.range, now - wk.chunk_started, wk.chunk_moments.mean,
                               wk.chunk_moments.variance(), wk.chunk_started - a.assigned});
      wk.queue.pop_front();
      if (!wk.queue.empty()) {
        wk.cursor = wk.queue.front().range.begin;
        wk.rest_tasks -= wk.queue.front().range.size();
      }
    }
    if (!wk.local && now - wk.last_send >= kResultSeconds) {
      send(w, 0, false, now);  // results go out at least every kResultSeconds, requested or not
    }
    step(w, now);
  }

  /// A local worker hands its finished chunks' reports to its master (no message).
  void hand_over(int w, double now) {
    Worker& wk = workers_[w];
    for (const ChunkReport& r : wk.unreported) {
      observe(wk.master, r, now);
    }
    wk.unreported.clear();
    wk.last_send = now;
  }

  void receive_reply(int w, std::uint32_t slot, double now) {
    Worker& wk = workers_[w];
    if (!wk.waiting) {
      wk.arrived = slot;  // computing: the worker looks at the network after its piece
      return;
    }
    wk.waiting = false;
    take_reply(w, slot, now);
    step(w, now);
  }

  void take_reply(int w, std::uint32_t slot, double now) {
    Worker& wk = workers_[w];
    const Message& msg = messages_[slot];
    wk.in_flight = false;
    wk.rtt = ewma(wk.rtt, now - wk.sent_at, kRttAlpha);
    wk.no_more = wk.no_more || msg.no_more;
    for (const Assigned& a : msg.chunks) {
      if (wk.queue.empty()) {
        wk.cursor = a.range.begin;
      } else {
        wk.rest_tasks += a.range.size();
      }
      wk.queue.push_back(a);
      wk.chunk_tasks = ewma(wk.chunk_tasks, static_cast<double>(a.range.size()), kChunkTasksAlpha);
    }
    free_message(slot);
  }

  void wake(int w, double now) {
    if (workers_[w].waiting) {
      workers_[w].waiting = false;
      step(w, now);
    }
  }

  /// A master's compute thread takes its next chunk straight from the dispatcher; finding none, it
  /// hands over what it has and stops (or, at a group master, waits for the next root chunk).
  bool take_local(int w, double now) {
    Worker& wk = workers_[w];
    Master& m = masters_[wk.master];
    const auto chunk = m.dispatcher ? m.dispatcher->next(wk.index) : std::nullopt;
    if (chunk) {
      wk.queue.push_back({*chunk, now, record(*chunk, wk.rank, now)});
      wk.cursor = chunk->begin;
      maybe_refill(wk.master, now);
      return true;
    }
    if (!wk.unreported.empty()) {
      hand_over(w, now);
    }
    if (is_group(m) && !m.parent_done) {
      wk.waiting = true;  // woken when the next root chunk is installed
      maybe_refill(wk.master, now);
    }
    return false;
  }

  // ---- masters -------------------------------------------------------------------------------

  void observe(int id, const ChunkReport& report, double now) {
    Master& m = masters_[id];
    if (m.dispatcher) {
      m.dispatcher->observe(report);
    }
    if (config_.on_observe) {
      config_.on_observe(m.rank, report, now);
    }
    if (!is_group(m)) {
      return;
    }
    for (auto it = m.outstanding.begin(); it != m.outstanding.end(); ++it) {
      if (!it->range.contains(report.range.begin)) {
        continue;
      }
      const TaskIndex n = report.range.size();
      it->left -= n;
      it->compute_seconds += report.compute_seconds;
      it->moments.merge(n, report.task_mean, report.task_variance * static_cast<double>(n > 1 ? n - 1 : 0));
      if (it->left == 0) {
        // The group reports as one worker n_workers times as fast.
        const double k = m.n_workers;
        m.root_reports.push_back({m.group, it->range, it->compute_seconds / k, it->moments.mean / k,
                                  it->moments.variance() / (k * k), it->overhead});
        m.outstanding.erase(it);
      }
      return;
    }
  }

  /// A group master asks the root for its next chunk once the current one is all handed out.
  void maybe_refill(int id, double leave) {
    Master& m = masters_[id];
    if (!is_group(m) || m.parent_done || m.refill_in_flight || (m.dispatcher && !m.dispatcher->exhausted())) {
      return;
    }
    m.refill_in_flight = true;
    const std::uint32_t slot = new_message();
    Message& msg = messages_[slot];
    msg.from = m.group;
    msg.want = 1;
    msg.reports.swap(m.root_reports);
    push(leave + config_.latency, EventKind::arrive, 0, slot);
  }

  void arrive(int id, std::uint32_t slot, double now) {
    Master& m = masters_[id];
    m.fifo.push_back(slot);
    if (!m.busy) {
      take_up(id, now);
    }
  }

  void serve_done(int id, double now) {
    Master& m = masters_[id];
    m.busy = false;
    m.last_done = now;
    if (!m.fifo.empty()) {
      take_up(id, now);
    }
  }

  /// The master takes up its oldest message, decides at once and stays busy for its service time;
  /// what it sends leaves at the end of that time.
  void take_up(int id, double now) {
    const std::uint32_t slot = masters_[id].fifo.front();
    masters_[id].fifo.pop_front();
    outbox_.clear();
    std::size_t handed = 0;
    if (messages_[slot].refill) {
      handed = install_refill(id, slot, now);
    } else {
      for (const ChunkReport& r : messages_[slot].reports) {
        observe(id, r, now);
      }
      messages_[slot].reports.clear();
      handed = messages_[slot].want > 0 ? answer(id, slot, now) : (free_message(slot), 0);
    }
    Master& m = masters_[id];
    const double duration = m.service + config_.service_per_chunk * static_cast<double>(handed);
    m.busy = true;
    m.busy_seconds += duration;
    ++m.messages;
    const double leave = now + duration;
    for (const Outgoing& o : outbox_) {
      push(leave + config_.latency, o.to_worker ? EventKind::reply : EventKind::arrive, o.target, o.slot);
    }
    maybe_refill(id, leave);
    push(leave, EventKind::serve_done, id);
  }

  /// Answers a request; returns the chunks handed out. A group master with nothing to hand out
  /// before the root has said "no more" keeps the request until its next root chunk.
  std::size_t answer(int id, std::uint32_t slot, double now) {
    Master& m = masters_[id];
    const Message& req = messages_[slot];
    const bool from_group = hierarchical() && id == 0;
    const int index = from_group ? req.from : workers_[req.from].index;
    const int rank = from_group ? masters_[req.from + 1].rank : workers_[req.from].rank;
    const std::uint32_t want = req.want;
    const int from = req.from;
    const std::uint32_t reply = new_message();  // may reallocate messages_: no references past here
    std::vector<Assigned> chunks = std::move(messages_[reply].chunks);
    bool no_more = false;
    // As farm/master.cpp: one reply holds at most a factoring share ceil(R / 2P) of the remaining
    // tasks beyond its first chunk, so a worker that overestimates what it needs cannot hoard.
    const auto workers = static_cast<TaskIndex>(m.n_workers);
    const TaskIndex share = m.dispatcher ? (m.dispatcher->remaining() + 2 * workers - 1) / (2 * workers) : 0;
    TaskIndex given = 0;
    for (std::uint32_t k = 0; k < want && (k == 0 || given < share); ++k) {
      const auto chunk = m.dispatcher ? m.dispatcher->next(index) : std::nullopt;
      if (!chunk) {
        no_more = !is_group(m) || m.parent_done;
        break;
      }
      given += chunk->size();
      if (from_group) {
        ++root_chunks_;
        chunks.push_back({*chunk, now, kNoRow});
      } else {
        chunks.push_back({*chunk, now, record(*chunk, rank, now)});
      }
    }
    const std::size_t handed = chunks.size();
    messages_[reply].chunks = std::move(chunks);
    if (handed == 0 && !no_more) {
      free_message(reply);
      m.deferred.push_back(slot);
      return 0;
    }
    free_message(slot);
    Message& out = messages_[reply];
    out.no_more = no_more;
    out.refill = from_group;
    outbox_.push_back({!from_group, from_group ? from + 1 : from, reply});
    return handed;
  }

  /// A group master takes up the root's reply: a fresh dispatcher over the new root chunk (or "no
  /// more"), then answers the members that have been waiting.
  std::size_t install_refill(int id, std::uint32_t slot, double now) {
    Master& m = masters_[id];
    m.refill_in_flight = false;
    const Message& msg = messages_[slot];
    if (msg.chunks.empty()) {
      m.parent_done = true;
    } else {
      const TaskRange range = msg.chunks.front().range;
      m.dispatcher = std::make_unique<ChunkDispatcher>(config_.policy, std::vector<TaskRange>{range}, m.n_workers);
      Outstanding& o = m.outstanding.emplace_back();
      o.range = range;
      o.overhead = now - msg.chunks.front().assigned;
      o.left = range.size();
    }
    free_message(slot);
    std::vector<std::uint32_t> waiting;
    waiting.swap(m.deferred);
    std::size_t handed = 0;
    for (const std::uint32_t s : waiting) {
      handed += answer(id, s, now);
    }
    if (masters_[id].local >= 0) {
      push(now, EventKind::wake, masters_[id].local);
    }
    return handed;
  }

  [[nodiscard]] SimResult result() {
    SimResult r;
    r.makespan = makespan_;
    r.total_cost = total_cost_;
    r.computing_ranks = computing_ranks_;
    r.efficiency = makespan_ > 0 ? total_cost_ / (computing_ranks_ * makespan_) : 1.0;
    r.chunks = chunks_;
    r.root_chunks = root_chunks_;
    const auto utilisation = [&](const Master& m) {
      const double end = std::max(makespan_, m.last_done);
      return end > 0 ? m.busy_seconds / end : 0.0;
    };
    r.master_messages = masters_[0].messages;
    r.master_busy_seconds = masters_[0].busy_seconds;
    r.master_utilisation = utilisation(masters_[0]);
    for (std::size_t i = 1; i < masters_.size(); ++i) {
      r.group_utilisation_max = std::max(r.group_utilisation_max, utilisation(masters_[i]));
      r.group_messages_max = std::max(r.group_messages_max, masters_[i].messages);
    }
    r.chunk_rows = std::move(rows_);
    return r;
  }

  const SimConfig& config_;
  TaskIndex n_tasks_;
  const TaskCost& cost_;
  std::vector<Master> masters_;  // [0] is rank 0; [1 + g] the master of group g
  std::vector<Worker> workers_;
  std::vector<Message> messages_;
  std::vector<std::uint32_t> free_;
  std::vector<Outgoing> outbox_;
  std::priority_queue<Event, std::vector<Event>, Later> events_;
  std::uint64_t seq_ = 0;
  std::vector<SimChunk> rows_;
  int computing_ranks_ = 0;
  TaskIndex tasks_done_ = 0;
  double total_cost_ = 0.0;
  double makespan_ = 0.0;
  std::uint64_t chunks_ = 0;
  std::uint64_t root_chunks_ = 0;
};

}  // namespace

SimResult simulate(const SimConfig& config, TaskIndex n_tasks, const TaskCost& cost) {
  return Simulation(config, n_tasks, cost).run();
}

}  // namespace taskfarm::schedule
