#include "taskfarm/farm/group_master.hpp"

#include <algorithm>
#include <deque>
#include <list>
#include <map>
#include <memory>

#include <boost/mpi/request.hpp>
#include <boost/mpi/status.hpp>

#include "taskfarm/core/clock.hpp"
#include "taskfarm/farm/idle_backoff.hpp"
#include "taskfarm/farm/protocol.hpp"
#include "taskfarm/schedule/group_pool.hpp"
#include "taskfarm/schedule/request_pacer.hpp"

namespace taskfarm::farm {

using schedule::cadence::kMaxWant;

GroupMaster::GroupMaster(const boost::mpi::communicator& world, const job::JobSpec& spec, std::vector<int> members,
                         double t0)
    : world_(world), spec_(spec), members_(std::move(members)), t0_(t0) {}

void GroupMaster::run() {
  const int m = static_cast<int>(members_.size());
  std::map<int, int> index;  // member rank -> worker number inside the group
  for (int i = 0; i < m; ++i) {
    index[members_[static_cast<std::size_t>(i)]] = i;
  }
  schedule::GroupPool pool(spec_.schedule.policy, m);
  std::vector<TaskRange> ranges;
  std::vector<std::pair<int, std::uint32_t>> waiting;
  int active = m;  // members not yet told "no more work"
  bool root_in_flight = false;
  bool root_done = false;
  bool stopping = false;

  std::vector<std::uint64_t> reply(assign_words(kMaxWant));
  boost::mpi::request root_request;
  int stop_message = 0;
  boost::mpi::request stop_request = world_.irecv(0, kTagStop, stop_message);
  std::list<std::pair<boost::mpi::request, std::vector<std::byte>>> sends;
  ReportBuilder empty({});

  auto ask_root = [&] {
    root_request = world_.irecv(0, kTagAssign, reply.data(), static_cast<int>(reply.size()));
    std::vector<std::byte> bytes = empty.take(pool.root_want(), 0);
    auto req = world_.isend(0, kTagReport, reinterpret_cast<const char*>(bytes.data()), static_cast<int>(bytes.size()));
    sends.emplace_back(req, std::move(bytes));
    root_in_flight = true;
  };

  IdleBackoff backoff;
  std::vector<std::byte> buffer;
  while (active > 0 && !stopping) {
    bool progress = false;
    sends.remove_if([](auto& s) { return static_cast<bool>(s.first.test()); });
    if (!stopping && stop_request.test()) {
      stopping = true;  // the request is complete now: never test or cancel it again
    }
    if (root_in_flight) {
      if (const auto status = root_request.test()) {
        root_in_flight = false;
        const AssignMessage msg =
            decode_assign({reply.data(), static_cast<std::size_t>(status->count<std::uint64_t>().value_or(0))});
        root_done = root_done || (msg.flags & AssignMessage::kNoMoreWork) != 0;
        for (const Assignment& a : msg.chunks) {
          pool.add(a.range);
        }
        progress = true;
      }
    }
    if (auto status = world_.iprobe(boost::mpi::any_source, kTagReport)) {
      const int count = status->count<char>().value_or(0);
      buffer.resize(static_cast<std::size_t>(count));
      world_.recv(status->source(), kTagReport, reinterpret_cast<char*>(buffer.data()), count);
      waiting.emplace_back(status->source(), peek_header(buffer).want);
      progress = true;
    }
    // Serve the members who wait, oldest first.
    const double now = now_seconds() - t0_;
    for (auto it = waiting.begin(); it != waiting.end();) {
      AssignMessage out;
      ranges.clear();
      pool.reply(index.at(it->first), it->second, ranges);
      for (TaskRange r : ranges) {
        out.chunks.push_back({r, now});
      }
      if (out.chunks.empty()) {
        if (!(stopping || (root_done && pool.empty()))) {
          ++it;
          continue;
        }
        out.flags |= AssignMessage::kNoMoreWork;
        --active;
      }
      const std::vector<std::uint64_t> words = encode_assign(out);
      world_.send(it->first, kTagAssign, words.data(), static_cast<int>(words.size()));
      it = waiting.erase(it);
      progress = true;
    }
    // Ask rank 0 again while about two rounds of the group's sub-chunks are left.
    if (!stopping && !root_done && !root_in_flight && pool.wants_more()) {
      ask_root();
      progress = true;
    }
    if (progress) {
      backoff.reset();
    } else {
      backoff.idle();
    }
  }
  // On a stop the members stop on rank 0's order themselves; anyone still waiting hears "no more".
  for (const auto& [rank, want] : waiting) {
    AssignMessage out;
    out.flags = AssignMessage::kNoMoreWork;
    const std::vector<std::uint64_t> words = encode_assign(out);
    world_.send(rank, kTagAssign, words.data(), static_cast<int>(words.size()));
  }
  std::vector<std::byte> final_report = empty.take(0, ReportHeader::kFinal);
  world_.send(0, kTagReport, reinterpret_cast<const char*>(final_report.data()),
              static_cast<int>(final_report.size()));
  for (auto& s : sends) {
    s.first.wait();
  }
  if (root_in_flight) {
    root_request.cancel();
    root_request.wait();
  }
  if (!stopping && !stop_request.test()) {
    stop_request.cancel();
    stop_request.wait();
  }
}

}  // namespace taskfarm::farm
