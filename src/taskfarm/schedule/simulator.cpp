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
#include "taskfarm/schedule/dispatch_core.hpp"
#include "taskfarm/schedule/group_pool.hpp"
#include "taskfarm/schedule/request_pacer.hpp"

namespace taskfarm::schedule {

namespace {

// The farm's own cadence (a group member sends results at most every kResultSeconds, unless it
// waits or leaves).
using cadence::kLocalPushSeconds;
using cadence::kMaxWant;
using cadence::kResultSeconds;
constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();

constexpr std::size_t kNoRow = std::numeric_limits<std::size_t>::max();

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
  /// Removes the chunk `range` if it is queued behind the front one (the one being computed).
  std::optional<Assigned> remove_queued(TaskRange range) {
    for (std::size_t i = head_ + 1; i < items_.size(); ++i) {
      if (items_[i].range == range) {
        const Assigned a = items_[i];
        items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(i));
        return a;
      }
    }
    return std::nullopt;
  }
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
  reclaim,         // rank 0 asks a worker to give a queued chunk back
};

/// A message in flight or waiting at a master. Slots are recycled, so their vectors keep their
/// capacity and a steady-state run allocates nothing per message.
struct Message {
  MessageKind kind = MessageKind::from_worker;
  int from = -1;           // worker id, or the group master's id
  bool no_more = false;    // reply: nothing more for the receiver
  bool final = false;      // the sender's last message
  std::uint32_t want = 0;  // chunks asked for
  bool answer = false;     // answers a reclaim of `asked`...
  bool given_back = false;  // ... and gives it back
  TaskRange asked;
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
  std::unique_ptr<DispatchCore> core;
  std::vector<std::uint32_t> held_requests;  // requests that found nothing yet (rank 0 holds them)
  std::vector<int> worker_of_index;          // rank 0's worker number -> worker id (-1: a group master)
  int local = -1;  // worker id of its compute thread
  // Group masters.
  int root_index = 0;  // its worker number in rank 0's policy
  int members = 0;
  std::unique_ptr<GroupPool> pool;
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
  bool idle = false;   // local: found nothing to do; woken when a chunk is given back
  // Processor sharing (SimConfig::cores): the piece in progress.
  bool computing = false;
  double remaining = 0.0;     // its seconds of work left at full speed
  double rate = 1.0;          // its current speed
  double rate_since = 0.0;    // when `remaining` was last brought up to date
  double piece_started = 0.0;
  std::uint32_t version = 0;  // of its segment_done event
  RunningMoments piece_moments;  // its task times at full speed
  RequestPacer pacer{PrefetchMode::none, 0};
  ChunkQueue queue;
  TaskIndex cursor = 0;      // next task of queue.front()
  TaskIndex stop = 0;        // end of the piece being computed
  TaskIndex rest_tasks = 0;  // tasks in queue[1..]
  bool in_flight = false;
  bool no_more = false;
  bool waiting = false;             // idle, polling for a reply
  bool results_pending = false;     // computed tasks whose results have not been sent
  std::uint32_t arrived = kNoSlot;  // a reply that came while computing: seen after the piece
  std::uint32_t reclaim = kNoSlot;  // a reclaim that came while computing: answered after the piece
  double sent_at = 0.0;
  double last_send = 0.0;  // local: last time its reports were handed to rank 0
  double last_results = 0.0;  // a group member: last time its results went to rank 0
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
  if (!(std::isfinite(c.cores) && c.cores >= 0)) {
    throw InputError(fmt::format("simulate: cores: expected a number >= 0 (0: a core per rank), got {}", c.cores));
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
          segment_done(static_cast<int>(e.target), e.time, e.slot);
          break;
      }
    }
    if (!masters_[0].held_requests.empty()) {
      throw Error(fmt::format("simulate: the farm stalled with {} requests held at rank 0 (a report never reached "
                              "it)",
                              masters_[0].held_requests.size()));
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
      masters_[i].pool = std::make_unique<GroupPool>(config_.policy, masters_[i].members);
    }
    computing_ranks_ = static_cast<int>(workers_.size());
    Master& root = masters_[0];
    root.service = config_.service;
    root.n_workers = next;
    // Who asks rank 0, as farm/master.cpp describes them to the dispatch core.
    Requesters who;
    who.workers = next;
    who.computing = computing_ranks_;
    who.single.assign(static_cast<std::size_t>(next), false);
    who.reclaimable.assign(static_cast<std::size_t>(next), false);
    root.worker_of_index.assign(static_cast<std::size_t>(next), -1);
    for (int w = 0; w < static_cast<int>(workers_.size()); ++w) {
      if (workers_[w].scheduler == 0) {
        const auto i = static_cast<std::size_t>(workers_[w].index);
        who.single[i] = true;
        who.reclaimable[i] = !workers_[w].local;
        root.worker_of_index[i] = w;
      }
    }
    root.core = std::make_unique<DispatchCore>(DispatchCore::root_spec(config_.policy, config_.root_policy, groups_ <= 1, config_.window),
                                               std::vector<TaskRange>{{0, n_tasks_}}, std::move(who));
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
    w.pacer = RequestPacer(config_.prefetch == SimPrefetch::fixed       ? PrefetchMode::fixed
                           : config_.prefetch == SimPrefetch::automatic ? PrefetchMode::automatic
                                                                        : PrefetchMode::none,
                           config_.prefetch_chunks);
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
    send(w, workers_[w].pacer.first_want(), false, 0.0);
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
    m.answer = m.given_back = false;
    m.asked = {};
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

  /// What a worker does between pieces of computing: the real worker's main loop (farm/worker.cpp),
  /// or rank 0's compute thread (farm/master.cpp, compute_locally).
  void step(int w, double now) {
    Worker& wk = workers_[w];
    if (wk.arrived != kNoSlot) {
      take_reply(w, std::exchange(wk.arrived, kNoSlot), now);
    }
    if (wk.reclaim != kNoSlot) {
      answer_reclaim(w, std::exchange(wk.reclaim, kNoSlot), now);
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
          send(w, wk.pacer.empty_want(), false, now);
        }
        if (wk.results_pending) {
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
      const auto step = wk.pacer.before_piece(wk.cursor, stop, (a.range.end - wk.cursor) + wk.rest_tasks,
                                              wk.queue.size() - 1);
      stop = step.stop;
      if (step.ask > 0) {
        send(w, step.ask, false, now);
      }
    }
    // One piece: tasks until `stop`, or until the piece has taken its time (at least one task).
    const double piece_seconds =
        wk.local ? cadence::kPieceSeconds : RequestPacer::piece_seconds(wk.queue.size() - 1, wk.in_flight);
    const bool sharing = config_.cores > 0;
    wk.piece_moments = {};
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
      (sharing ? wk.piece_moments : wk.chunk_moments).add(x);
      ++t;
      if (seconds >= piece_seconds) {
        break;
      }
    }
    wk.stop = t;
    wk.segment_seconds = seconds;
    if (!sharing) {
      push(now + seconds, EventKind::segment_done, w);
      return;
    }
    wk.piece_started = now;
    wk.remaining = seconds;
    wk.rate_since = now;
    wk.computing = true;
    ++computing_now_;
    share_cores(now);
  }

  /// Processor sharing (SimConfig::cores): every computing worker runs at min(1, C / B), B the
  /// workers computing now; when B changes, each piece's work left is brought up to date and its
  /// end rescheduled (the older event is recognised as stale by its version).
  void share_cores(double now) {
    const double rate = std::min(1.0, config_.cores / std::max(1, computing_now_));
    for (int w = 0; w < static_cast<int>(workers_.size()); ++w) {
      Worker& wk = workers_[w];
      if (!wk.computing) {
        continue;
      }
      wk.remaining = std::max(0.0, wk.remaining - (now - wk.rate_since) * wk.rate);
      wk.rate_since = now;
      wk.rate = rate;
      push(now + wk.remaining / rate, EventKind::segment_done, w, ++wk.version);
    }
  }

  void segment_done(int w, double now, std::uint32_t version) {
    Worker& wk = workers_[w];
    if (config_.cores > 0) {
      if (version != wk.version) {
        return;  // rescheduled since: the share of the cores changed
      }
      wk.computing = false;
      --computing_now_;
      share_cores(now);
      // The piece's task times stretched as its wall time did.
      const double k = wk.segment_seconds > 0 ? (now - wk.piece_started) / wk.segment_seconds : 1.0;
      wk.chunk_moments.merge(wk.piece_moments.n, wk.piece_moments.mean * k, wk.piece_moments.m2 * k * k);
      wk.segment_seconds = now - wk.piece_started;
    }
    const TaskIndex done = wk.stop - wk.cursor;
    tasks_done_ += done;
    wk.results_pending = true;
    wk.pacer.computed(wk.segment_seconds, done);
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
    if (!masters_[0].held_requests.empty()) {  // rank 0's main thread answers what these settle
      const std::size_t mark = outbox_.size();
      serve_held(now);
      for (std::size_t i = mark; i < outbox_.size(); ++i) {
        push(now + config_.latency, outbox_[i].to_worker ? EventKind::reply : EventKind::arrive, outbox_[i].target,
             outbox_[i].slot);
      }
      outbox_.resize(mark);
    }
  }

  void receive_reply(int w, std::uint32_t slot, double now) {
    Worker& wk = workers_[w];
    if (messages_[slot].kind == MessageKind::reclaim) {
      if (wk.waiting) {
        answer_reclaim(w, slot, now);  // a worker waiting for work polls for reclaims too
      } else {
        wk.reclaim = slot;
      }
      return;
    }
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
    wk.pacer.replied(now - wk.sent_at);
    wk.no_more = wk.no_more || msg.no_more;
    for (const Assigned& a : msg.chunks) {
      if (wk.queue.empty()) {
        wk.cursor = a.range.begin;
      } else {
        wk.rest_tasks += a.range.size();
      }
      wk.queue.push_back(a);
      wk.pacer.received(a.range.size());
    }
    free_message(slot);
  }

  /// The worker gives the chunk back unless it is the one it computes (farm/worker.cpp); the answer
  /// leaves at once with whatever results it has.
  void answer_reclaim(int w, std::uint32_t slot, double now) {
    Worker& wk = workers_[w];
    const TaskRange asked = messages_[slot].asked;
    free_message(slot);
    const auto removed = wk.queue.remove_queued(asked);
    const bool given = removed.has_value();
    if (given) {
      wk.rest_tasks -= asked.size();
      if (removed->row != kNoRow) {
        rows_[removed->row].given_back = true;  // not a chunk any rank computed: dropped from the rows
      }
    }
    const std::uint32_t answer = new_message();
    Message& msg = messages_[answer];
    msg.from = w;
    msg.answer = true;
    msg.given_back = given;
    msg.asked = asked;
    msg.reports.swap(wk.unreported);
    wk.results_pending = false;
    wk.last_send = now;
    push(now + config_.latency, EventKind::arrive, 0, answer);
  }

  /// Rank 0's compute thread takes its next chunk straight from the dispatcher; finding none, it
  /// hands over what it has and stops.
  bool take_local(int w, double now) {
    Worker& wk = workers_[w];
    ranges_.clear();
    masters_[0].core->reply(wk.index, 1, ranges_);
    if (!ranges_.empty()) {
      wk.queue.push_back({ranges_.front(), now, record(ranges_.front(), wk.rank, now)});
      wk.cursor = ranges_.front().begin;
      wk.idle = false;
      return true;
    }
    if (!wk.unreported.empty()) {
      hand_over(w, now);
    }
    wk.idle = true;  // asks queued chunks back; woken when one is given back
    reclaim(now);
    return false;
  }

  // ---- masters -------------------------------------------------------------------------------

  /// Passes a report to master `id`'s policy: rank 0 files it under the sender's rank 0 number (a
  /// group member's reports count for its group), a group master under the member's own.
  void observe(int id, ChunkReport report, double now) {
    Master& m = masters_[id];
    if (id == 0) {
      m.core->report(report);
    } else {
      m.pool->observe(report);
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
    if (id == 0 && std::exchange(wake_after_service_, false)) {
      wake_local(leave);
    }
    push(leave, EventKind::serve_done, id);
  }

  std::size_t take_up_at_rank0(std::uint32_t slot, double now) {
    Master& m = masters_[0];
    Message& msg = messages_[slot];
    const MessageKind kind = msg.kind;
    const int from = msg.from;
    for (ChunkReport r : msg.reports) {
      if (kind == MessageKind::from_worker) {
        r.worker = workers_[from].root_index;
      }
      observe(0, r, now);
    }
    msg.reports.clear();
    const bool given_back = msg.answer && msg.given_back;
    if (msg.answer) {
      m.core->reclaimed(workers_[from].index, msg.asked, msg.given_back);
    }
    if (msg.want > 0) {
      m.held_requests.push_back(slot);  // answered now if there is work, else once there is (or all is in)
    } else {
      free_message(slot);
    }
    const std::size_t handed = serve_held(now);
    if (given_back) {
      wake_after_service_ = true;  // the main thread signals rank 0's thread once it has served this
    }
    if (!m.held_requests.empty() || (m.local >= 0 && workers_[m.local].idle)) {
      reclaim(now);
    }
    return handed;
  }

  /// Rank 0 answers the requests it holds, oldest first (Master::fill, release_waiting): chunks from
  /// the dispatch core, "no more work" once every handed-out task is reported, else it keeps holding.
  std::size_t serve_held(double now) {
    Master& m = masters_[0];
    std::size_t handed = 0;
    for (auto it = m.held_requests.begin(); it != m.held_requests.end();) {
      const Message& request = messages_[*it];
      const bool to_group = request.kind == MessageKind::from_group;
      const int from = request.from;
      const int index = to_group ? masters_[from].root_index : workers_[from].index;
      ranges_.clear();
      m.core->reply(index, request.want, ranges_);
      if (ranges_.empty() && !m.core->finished()) {
        ++it;
        continue;
      }
      const std::uint32_t reply = new_message();
      Message& out = messages_[reply];
      for (TaskRange r : ranges_) {
        if (to_group) {
          ++root_chunks_;
          out.chunks.push_back({r, now, kNoRow});
        } else {
          out.chunks.push_back({r, now, record(r, workers_[from].rank, now)});
        }
      }
      out.no_more = out.chunks.empty();
      out.kind = MessageKind::reply_to_group;
      outbox_.push_back({!to_group, from, reply});
      handed += out.chunks.size();
      free_message(*it);
      it = m.held_requests.erase(it);
    }
    return handed;
  }

  /// Rank 0 asks queued chunks back (a requester would go idle; the dispatch core picks them).
  void reclaim(double now) {
    Master& m = masters_[0];
    while (const auto r = m.core->reclaim()) {
      const std::uint32_t slot = new_message();
      messages_[slot].kind = MessageKind::reclaim;
      messages_[slot].asked = r->range;
      push(now + config_.latency, EventKind::reply, m.worker_of_index[static_cast<std::size_t>(r->worker)], slot);
      ++reclaims_;
    }
  }

  /// Rank 0's idle compute thread is woken by its main thread once that has served the message that
  /// gave work back (Master::run): `now` is the end of that service.
  void wake_local(double now) {
    Master& m = masters_[0];
    if (m.local >= 0 && workers_[m.local].idle && m.core->remaining() > 0) {
      workers_[m.local].idle = false;
      step(m.local, now);
    }
  }

  std::size_t take_up_at_group(int id, std::uint32_t slot, double now) {
    Master& m = masters_[id];
    Message& msg = messages_[slot];
    if (msg.kind == MessageKind::reply_to_group) {
      m.root_in_flight = false;
      m.root_done = m.root_done || msg.no_more;
      for (const Assigned& a : msg.chunks) {
        m.pool->add(a.range);
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
      ranges_.clear();
      m.pool->reply(workers_[w].index, want, ranges_);
      for (TaskRange r : ranges_) {
        out.chunks.push_back({r, now, record(r, workers_[w].rank, now)});
      }
      if (out.chunks.empty()) {
        if (!(m.root_done && m.pool->empty())) {
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
    const bool ask = !m.root_done && !m.root_in_flight && m.pool->wants_more();
    // Forwarded results go out a second after the last message, or at once when its root request is
    // held at rank 0 with nothing left in its pool: rank 0 answers only once every task is reported.
    const bool forward = forwarding() && m.results_pending &&
                         (leave - m.last_send >= kResultSeconds || (m.root_in_flight && m.pool->empty()));
    const bool final = m.active == 0 && !m.final_sent;
    if (!ask && !forward && !final) {
      return;
    }
    const std::uint32_t slot = new_message();
    Message& msg = messages_[slot];
    msg.kind = MessageKind::from_group;
    msg.from = id;
    msg.want = ask ? m.pool->root_want() : 0;
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
    r.reclaims = reclaims_;
    r.given_back = masters_[0].core->chunks_given_back();
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
    std::erase_if(rows_, [](const SimChunk& c) { return c.given_back; });
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
  std::uint64_t reclaims_ = 0;
  bool wake_after_service_ = false;  // rank 0's service gave work back: wake its idle compute thread at the end
  int computing_now_ = 0;  // workers with a piece in progress
  std::vector<TaskRange> ranges_;            // scratch for a reply's chunks
};

}  // namespace

SimResult simulate(const SimConfig& config, TaskIndex n_tasks, const TaskCost& cost) {
  return Simulation(config, n_tasks, cost).run();
}

}  // namespace taskfarm::schedule
