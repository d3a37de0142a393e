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

#include "taskfarm/core/running_moments.hpp"
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
constexpr double kResultSeconds = 1.0;      // and sends its results at least this often (a group
                                            // member: at most this often, unless it waits or leaves)
constexpr double kLocalPushSeconds = 0.2;   // rank 0's compute thread hands its results over this often
constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();

constexpr std::size_t kNoRow = std::numeric_limits<std::size_t>::max();

double ewma(double old, double sample, double alpha) { return old < 0 ? sample : old + alpha * (sample - old); }

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

enum class MessageKind : std::uint8_t {
  from_worker,     // a worker's request, results or final message
  from_group,      // a group master's request (or final message) to rank 0
  reply_to_group,  // rank 0's reply to a group master: it queues like any message there
};

/// A message in flight or waiting at a master. Slots are recycled, so their vectors keep their
/// capacity and a steady-state run allocates nothing per message.
struct Message {
  MessageKind kind = MessageKind::from_worker;
  int from = -1;           // worker id, or the group master's id
  bool no_more = false;    // reply: nothing more for the receiver
  bool final = false;      // the sender's last message
  std::uint32_t want = 0;  // chunks asked for
  std::vector<ChunkReport> reports;
  std::vector<Assigned> chunks;
};

/// A root chunk a forwarding group master has not yet seen all reports of.
struct Outstanding {
  TaskRange range;
  double overhead = 0.0;  // from rank 0's decision to the group master taking the reply up
  TaskIndex left = 0;
  double compute_seconds = 0.0;
  RunningMoments moments;
};

/// One root chunk in a group master's pool, split by its own dispatcher (farm/group_master.cpp).
struct PoolEntry {
  TaskRange range;
  std::unique_ptr<ChunkDispatcher> dispatcher;
};

struct Master {
  int rank = 0;
  double service = 0.0;
  std::deque<std::uint32_t> fifo;  // message slots waiting to be taken up
  bool busy = false;
  double busy_seconds = 0.0;
  double last_done = 0.0;
  std::uint64_t messages = 0;
  // Rank 0.
  int n_workers = 0;  // its policy's workers
  std::unique_ptr<ChunkDispatcher> dispatcher;
  int local = -1;  // worker id of its compute thread
  // Group masters.
  int root_index = 0;  // its worker number in rank 0's policy
  int members = 0;
  std::deque<PoolEntry> pool;
  TaskIndex pool_tasks = 0;
  TaskIndex last_piece = 1;  // size of the last sub-chunk handed out
  std::vector<std::uint32_t> waiting;  // member requests not answered yet, oldest first
  int active = 0;                      // members not yet told "no more work"
  bool root_in_flight = false;
  bool root_done = false;
  bool final_sent = false;
  // Group masters that forward results (SimConfig::results_through_group_masters).
  std::vector<Outstanding> outstanding;
  std::vector<ChunkReport> root_reports;  // for its next message to rank 0
  bool results_pending = false;
  double last_send = 0.0;
};

struct Worker {
  int rank = 0;
  int scheduler = 0;     // master id its requests go to
  int results_to = 0;    // master id its results and reports go to
  int index = 0;         // its number in its scheduler's policy
  int root_index = 0;    // the number rank 0's policy files its reports under
  double speed = 1.0;
  bool local = false;  // rank 0's compute thread: no messages
  ChunkQueue queue;
  TaskIndex cursor = 0;      // next task of queue.front()
  TaskIndex stop = 0;        // end of the piece being computed
  TaskIndex rest_tasks = 0;  // tasks in queue[1..]
  bool in_flight = false;
  bool no_more = false;
  bool waiting = false;             // idle, polling for a reply
  bool results_pending = false;     // computed tasks whose results have not been sent
  std::uint32_t arrived = kNoSlot;  // a reply that came while computing: seen after the piece
  double sent_at = 0.0;
  double last_send = 0.0;  // local: last time its reports were handed to rank 0
  double last_results = 0.0;  // a group member: last time its results went to rank 0
  double rtt = -1.0;
  double task_time = -1.0;
  double chunk_tasks = -1.0;
  double chunk_started = 0.0;
  double segment_seconds = 0.0;
  RunningMoments chunk_moments;
  std::vector<ChunkReport> unreported;
};

enum class EventKind : std::uint8_t { arrive, serve_done, reply, segment_done };

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

/// Rank layout of farm/topology.hpp: G >= 2 contiguous groups, group g from rank ceil(g P / G);
/// group 0's master is rank 0 itself.
struct Topology {
  int size;
  int groups;
  [[nodiscard]] int group_of(int rank) const noexcept {
    return static_cast<int>(static_cast<long long>(rank) * groups / size);
  }
  [[nodiscard]] int group_master(int g) const noexcept {
    return static_cast<int>((static_cast<long long>(g) * size + groups - 1) / groups);
  }
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
  if (c.groups >= 2) {
    const int extra = c.rank0_serves_only_group_masters ? 1 : 0;  // rank 0 outside the groups
    if (2 * static_cast<long long>(c.groups) + extra > c.ranks) {
      throw InputError(fmt::format("simulate: {} groups need at least {} ranks (a group master and a member each{}), "
                                   "got {}",
                                   c.groups, 2 * static_cast<long long>(c.groups) + extra,
                                   extra != 0 ? ", and rank 0" : "", c.ranks));
    }
    const PolicyKind k = c.root_policy.kind;
    if (k == PolicyKind::static_block || k == PolicyKind::fsc || k == PolicyKind::wf) {
      throw InputError(fmt::format("simulate: root policy: expected a policy that needs no per-worker settings (ss, "
                                   "gss, tss, fac2, mfsc, awf*, af, auto), got \"{}\"",
                                   policy_name(k)));
    }
    if (!c.policy.weights.empty()) {
      throw InputError("simulate: per-worker weights cannot be combined with groups");
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
  [[nodiscard]] bool forwarding() const noexcept { return config_.results_through_group_masters; }

  void build() {
    const int p = config_.ranks;
    const auto speed = [&](int rank) { return config_.speed.empty() ? 1.0 : config_.speed[rank]; };
    groups_ = config_.groups >= 2 ? config_.groups : 1;
    // The what-if keeps rank 0 out of the groups: ranks 1..P-1 form them, every group has a master.
    const bool apart = groups_ > 1 && config_.rank0_serves_only_group_masters;
    const int offset = apart ? 1 : 0;
    const bool mc = (config_.master_computes || p == 1) && !apart;
    const Topology topo{p - offset, groups_};
    const double group_service = config_.group_service < 0 ? config_.service : config_.group_service;

    masters_.emplace_back();  // rank 0
    std::vector<int> master_of_group(static_cast<std::size_t>(groups_), 0);
    for (int g = apart ? 0 : 1; g < groups_; ++g) {
      master_of_group[static_cast<std::size_t>(g)] = static_cast<int>(masters_.size());
      Master& m = masters_.emplace_back();
      m.rank = offset + topo.group_master(g);
      m.service = group_service;
    }
    // Rank 0's policy numbers its compute thread, then every rank that asks it directly, group
    // masters included, in rank order (farm/master.cpp, requesters()).
    int next = mc ? 1 : 0;
    if (mc) {
      masters_[0].local = add_worker(0, 0, 0, speed(0), true);
    }
    for (int r = 1; r < p; ++r) {
      const int g = topo.group_of(r - offset);
      const int id = master_of_group[static_cast<std::size_t>(g)];
      if (id == 0) {  // rank 0's own group: it serves these ranks directly
        add_worker(r, 0, next++, speed(r), false);
        continue;
      }
      Master& m = masters_[id];
      if (r == m.rank) {
        m.root_index = next++;
        continue;
      }
      const int w = add_worker(r, id, m.members++, speed(r), false);
      workers_[w].results_to = forwarding() ? id : 0;
      workers_[w].root_index = m.root_index;
    }
    for (std::size_t i = 1; i < masters_.size(); ++i) {
      masters_[i].active = masters_[i].members;
    }
    Master& root = masters_[0];
    root.service = config_.service;
    root.n_workers = next;
    PolicySpec spec = config_.policy;
    if (groups_ > 1) {
      spec = config_.root_policy;  // sized for the groups; the job's lower bound still applies
      spec.min_chunk = config_.policy.min_chunk;
      spec.max_chunk = 0;
    }
    root.dispatcher = std::make_unique<ChunkDispatcher>(spec, std::vector<TaskRange>{{0, n_tasks_}}, root.n_workers);
    computing_ranks_ = static_cast<int>(workers_.size());
  }

  int add_worker(int rank, int scheduler, int index, double speed, bool local) {
    Worker& w = workers_.emplace_back();
    w.rank = rank;
    w.scheduler = scheduler;
    w.results_to = scheduler;
    w.index = index;
    w.root_index = index;
    w.speed = speed;
    w.local = local;
    return static_cast<int>(workers_.size() - 1);
  }

  /// Every rank starts at time 0, in rank order.
  void start() {
    std::size_t next_worker = 0;
    for (int m = 1; m < static_cast<int>(masters_.size()); ++m) {
      while (next_worker < workers_.size() && workers_[next_worker].rank < masters_[m].rank) {
        start_worker(static_cast<int>(next_worker++));
      }
      after_service(m, 0.0);  // its first request to rank 0
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
    m.kind = MessageKind::from_worker;
    m.from = -1;
    m.no_more = m.final = false;
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

  /// A worker's message (requests ask for `want` > 0 chunks) carrying the reports of the chunks
  /// finished since its last one. A member of a group of the real farm (farm/worker.cpp) sends its
  /// request to its group master and its results to rank 0 in batches: with a request only once a
  /// second has passed since its last results, and always on a message without a request (it waits
  /// with an empty queue, the periodic send) and on its final message.
  void send(int w, std::uint32_t want, bool final, double now) {
    Worker& wk = workers_[w];
    const bool split = wk.results_to != wk.scheduler;
    const bool results_now = !split || final || want == 0 || now - wk.last_results >= kResultSeconds;
    if (split && results_now) {
      wk.last_results = now;
    }
    if (!split || (results_now && (wk.results_pending || final))) {
      const std::uint32_t slot = new_message();
      Message& msg = messages_[slot];
      msg.from = w;
      msg.want = split ? 0 : want;
      msg.final = final;
      msg.reports.swap(wk.unreported);  // the worker keeps the slot's empty vector and its capacity
      push(now + config_.latency, EventKind::arrive, wk.results_to, slot);
      wk.results_pending = false;
    }
    if (split && want > 0) {
      const std::uint32_t slot = new_message();
      messages_[slot].from = w;
      messages_[slot].want = want;
      push(now + config_.latency, EventKind::arrive, wk.scheduler, slot);
    }
    if (want > 0) {
      wk.in_flight = true;
      wk.sent_at = now;
    }
    wk.last_send = now;
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
      take_reply(w, std::exchange(wk.arrived, kNoSlot), now);
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
        } else if (wk.results_pending) {
          send(w, 0, false, now);  // never wait holding results (farm/worker.cpp)
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
    wk.results_pending = true;
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

  /// Rank 0's compute thread hands its finished chunks' reports over (no message).
  void hand_over(int w, double now) {
    Worker& wk = workers_[w];
    for (const ChunkReport& r : wk.unreported) {
      observe(0, r, now);
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

  /// Rank 0's compute thread takes its next chunk straight from the dispatcher; finding none, it
  /// hands over what it has and stops.
  bool take_local(int w, double now) {
    Worker& wk = workers_[w];
    const auto chunk = masters_[0].dispatcher->next(wk.index, single_cap());
    if (chunk) {
      wk.queue.push_back({*chunk, now, record(*chunk, wk.rank, now)});
      wk.cursor = chunk->begin;
      return true;
    }
    if (!wk.unreported.empty()) {
      hand_over(w, now);
    }
    return false;
  }

  // ---- masters -------------------------------------------------------------------------------

  /// Master::fill and compute_locally: under two-level scheduling (rank 0's policy has fewer workers
  /// than there are computing ranks) a single computing rank that takes chunks from rank 0 (its
  /// compute thread, a member of group 0) gets at most ceil(R / 2P) tasks a chunk, R the tasks rank
  /// 0 has not handed out, P the computing ranks of the run; 0 = no cap.
  [[nodiscard]] TaskIndex single_cap() const {
    const Master& m = masters_[0];
    if (m.n_workers == computing_ranks_) {
      return 0;
    }
    const auto p = static_cast<TaskIndex>(computing_ranks_);
    return (m.dispatcher->remaining() + 2 * p - 1) / (2 * p);
  }

  /// Passes a report to master `id`'s policy: rank 0 files it under the sender's rank 0 number (a
  /// group member's reports count for its group), a group master under the member's own.
  void observe(int id, ChunkReport report, double now) {
    Master& m = masters_[id];
    if (id == 0) {
      m.dispatcher->observe(report);
    } else {
      for (PoolEntry& e : m.pool) {
        if (e.range.contains(report.range.begin)) {
          e.dispatcher->observe(report);
          break;
        }
      }
      aggregate(m, report);
    }
    if (config_.on_observe) {
      config_.on_observe(m.rank, report, now);
    }
  }

  /// A forwarding group master reports a root chunk to rank 0 once all its tasks are reported, as
  /// one worker `members` times as fast.
  void aggregate(Master& m, const ChunkReport& report) {
    for (auto it = m.outstanding.begin(); it != m.outstanding.end(); ++it) {
      if (!it->range.contains(report.range.begin)) {
        continue;
      }
      const TaskIndex n = report.range.size();
      it->left -= n;
      it->compute_seconds += report.compute_seconds;
      it->moments.merge(n, report.task_mean, report.task_variance * static_cast<double>(n > 1 ? n - 1 : 0));
      if (it->left == 0) {
        const double k = m.members;
        m.root_reports.push_back({m.root_index, it->range, it->compute_seconds / k, it->moments.mean / k,
                                  it->moments.variance() / (k * k), it->overhead});
        m.outstanding.erase(it);
      }
      return;
    }
  }

  void arrive(int id, std::uint32_t slot, double now) {
    masters_[id].fifo.push_back(slot);
    if (!masters_[id].busy) {
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
    const std::size_t handed = id == 0 ? take_up_at_rank0(slot, now) : take_up_at_group(id, slot, now);
    Master& m = masters_[id];
    const double duration = m.service + config_.service_per_chunk * static_cast<double>(handed);
    m.busy = true;
    m.busy_seconds += duration;
    ++m.messages;
    const double leave = now + duration;
    for (const Outgoing& o : outbox_) {
      push(leave + config_.latency, o.to_worker ? EventKind::reply : EventKind::arrive, o.target, o.slot);
    }
    if (id != 0) {
      after_service(id, leave);
    }
    push(leave, EventKind::serve_done, id);
  }

  std::size_t take_up_at_rank0(std::uint32_t slot, double now) {
    const MessageKind kind = messages_[slot].kind;
    const int from = messages_[slot].from;
    for (ChunkReport r : messages_[slot].reports) {
      if (kind == MessageKind::from_worker) {
        r.worker = workers_[from].root_index;
      }
      observe(0, r, now);
    }
    const std::uint32_t want = messages_[slot].want;
    free_message(slot);
    if (want == 0) {
      return 0;
    }
    // As Master::fill: at most a factoring share ceil(R / 2P) of the remaining tasks beyond the
    // first chunk, so a worker that overestimates what it needs cannot hoard the job.
    Master& m = masters_[0];
    const auto workers = static_cast<TaskIndex>(m.n_workers);
    const TaskIndex share = (m.dispatcher->remaining() + 2 * workers - 1) / (2 * workers);
    const bool to_group = kind == MessageKind::from_group;
    const int index = to_group ? masters_[from].root_index : workers_[from].index;
    const TaskIndex cap = to_group ? 0 : single_cap();
    const std::uint32_t reply = new_message();
    Message& out = messages_[reply];
    TaskIndex given = 0;
    while (out.chunks.size() < want && (out.chunks.empty() || given < share)) {
      const auto chunk = m.dispatcher->next(index, cap);
      if (!chunk) {
        break;
      }
      given += chunk->size();
      if (to_group) {
        ++root_chunks_;
        out.chunks.push_back({*chunk, now, kNoRow});
      } else {
        out.chunks.push_back({*chunk, now, record(*chunk, workers_[from].rank, now)});
      }
    }
    out.no_more = out.chunks.empty();  // no retries here: nothing now is nothing ever
    out.kind = MessageKind::reply_to_group;
    outbox_.push_back({!to_group, from, reply});
    return out.chunks.size();
  }

  std::size_t take_up_at_group(int id, std::uint32_t slot, double now) {
    Master& m = masters_[id];
    Message& msg = messages_[slot];
    if (msg.kind == MessageKind::reply_to_group) {
      m.root_in_flight = false;
      m.root_done = m.root_done || msg.no_more;
      for (const Assigned& a : msg.chunks) {
        PoolEntry& e = m.pool.emplace_back();
        e.range = a.range;
        e.dispatcher = std::make_unique<ChunkDispatcher>(config_.policy, std::vector<TaskRange>{a.range}, m.members);
        m.pool_tasks += a.range.size();
        if (forwarding()) {
          Outstanding& o = m.outstanding.emplace_back();
          o.range = a.range;
          o.overhead = now - a.assigned;
          o.left = a.range.size();
        }
      }
      free_message(slot);
    } else {
      for (const ChunkReport& r : msg.reports) {
        observe(id, r, now);
      }
      msg.reports.clear();
      m.results_pending = m.results_pending || (forwarding() && msg.from >= 0);
      if (msg.want > 0) {
        m.waiting.push_back(slot);
      } else {
        free_message(slot);
      }
    }
    return serve_waiting(id, now);
  }

  /// A group master answers its waiting members, oldest first, from its pool of root chunks
  /// (farm/group_master.cpp); returns the chunks handed out.
  std::size_t serve_waiting(int id, double now) {
    Master& m = masters_[id];
    std::size_t handed = 0;
    for (auto it = m.waiting.begin(); it != m.waiting.end();) {
      const int w = messages_[*it].from;
      const std::uint32_t want = messages_[*it].want;
      const std::uint32_t reply = new_message();
      Message& out = messages_[reply];
      // As rank 0 caps a reply: at most ceil(R / 2m) of the R tasks in its pool beyond the first
      // chunk, m its members, so a member asking for many chunks cannot hoard the group's work.
      const auto members = static_cast<TaskIndex>(m.members);
      const TaskIndex share = (m.pool_tasks + 2 * members - 1) / (2 * members);
      TaskIndex given = 0;
      while (out.chunks.size() < want && !m.pool.empty() && (out.chunks.empty() || given < share)) {
        const auto chunk = m.pool.front().dispatcher->next(workers_[w].index);
        if (!chunk) {
          if (m.pool.front().dispatcher->exhausted()) {
            m.pool.pop_front();
            continue;
          }
          break;  // the policy has nothing for this member in this chunk (static): wait for more
        }
        m.pool_tasks -= chunk->size();
        given += chunk->size();
        m.last_piece = chunk->size();
        out.chunks.push_back({*chunk, now, record(*chunk, workers_[w].rank, now)});
      }
      if (out.chunks.empty()) {
        if (!(m.root_done && m.pool.empty())) {
          free_message(reply);
          ++it;
          continue;
        }
        out.no_more = true;
        --m.active;
      }
      handed += out.chunks.size();
      outbox_.push_back({true, w, reply});
      free_message(*it);
      it = m.waiting.erase(it);
    }
    return handed;
  }

  /// What a group master sends on its own once a message is dealt with: its request to rank 0
  /// while about two rounds of sub-chunks are left, forwarded results, its final message.
  void after_service(int id, double leave) {
    Master& m = masters_[id];
    const bool ask =
        !m.root_done && !m.root_in_flight && m.pool_tasks < 2 * static_cast<TaskIndex>(m.members) * m.last_piece;
    const bool forward = forwarding() && m.results_pending && leave - m.last_send >= kResultSeconds;
    const bool final = m.active == 0 && !m.final_sent;
    if (!ask && !forward && !final) {
      return;
    }
    const std::uint32_t slot = new_message();
    Message& msg = messages_[slot];
    msg.kind = MessageKind::from_group;
    msg.from = id;
    msg.want = ask ? static_cast<std::uint32_t>(m.members) : 0;
    msg.final = final;
    if (forwarding()) {
      msg.reports.swap(m.root_reports);
      m.results_pending = false;
    }
    m.root_in_flight = m.root_in_flight || ask;
    m.final_sent = m.final_sent || final;
    m.last_send = leave;
    push(leave + config_.latency, EventKind::arrive, 0, slot);
  }

  [[nodiscard]] SimResult result() {
    SimResult r;
    r.makespan = makespan_;
    r.finished = std::max(makespan_, masters_[0].last_done);
    r.total_cost = total_cost_;
    r.computing_ranks = computing_ranks_;
    r.groups = groups_ > 1 ? groups_ : 0;
    r.group_masters = static_cast<int>(masters_.size()) - 1;
    r.rank0_computes = masters_[0].local >= 0;
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
  int groups_ = 1;
  std::vector<Master> masters_;  // [0] is rank 0; then the group masters of groups 1..G-1
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
