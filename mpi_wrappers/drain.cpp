#include "drain.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace ckpt::detail::pmpi {

std::vector<std::vector<CountRecord>> plan_count_records(const std::vector<SentChannel> &sent,
                                                         int nranks) {
  std::vector<std::map<std::uint64_t, std::uint64_t>> per_dest(nranks);
  for (const SentChannel &c : sent) {
    if (c.dest < 0 || c.dest >= nranks)
      throw DrainError("channel to rank " + std::to_string(c.dest) +
                       " outside the runtime communicator");
    if (c.sent != 0) per_dest[c.dest][c.comm_id] += c.sent;
  }
  std::vector<std::vector<CountRecord>> out(nranks);
  for (int r = 0; r < nranks; ++r)
    for (const auto &[comm, n] : per_dest[r])
      out[r].push_back({comm, n});
  return out;
}

std::vector<Expectation> expectations_from(const std::vector<std::vector<CountRecord>> &received) {
  std::vector<Expectation> out;
  for (int src = 0; src < static_cast<int>(received.size()); ++src)
    for (const CountRecord &r : received[src])
      out.push_back({r.comm_id, src, r.sent});
  return out;
}

namespace {

// Communicators with a channel still short of messages; throws on excess.
std::set<std::uint64_t> short_comms(const DrainTransport &t,
                                    const std::vector<Expectation> &expected,
                                    std::uint64_t untracked_id) {
  std::set<std::uint64_t> out;
  for (const Expectation &e : expected) {
    const std::uint64_t got = t.received(e.comm_id, e.source);
    if (got > e.sent)
      throw DrainError("channel counts disagree: received " + std::to_string(got) +
                       " messages from rank " + std::to_string(e.source) + " but it sent " +
                       std::to_string(e.sent));
    if (got < e.sent) {
      if (e.comm_id == untracked_id)
        throw DrainError(std::to_string(e.sent - got) + " message(s) from rank " +
                         std::to_string(e.source) +
                         " in flight on a communicator the layer cannot identify after a "
                         "restart (created by an unwrapped call)");
      out.insert(e.comm_id);
    }
  }
  return out;
}

} // namespace

std::uint64_t drain_channels(DrainTransport &transport, const std::vector<Expectation> &expected,
                             std::uint64_t untracked_id) {
  std::uint64_t drained = 0;
  for (;;) {
    transport.progress_application_receives();
    const std::set<std::uint64_t> pending = short_comms(transport, expected, untracked_id);
    if (pending.empty()) return drained;
    bool progress = false;
    for (std::uint64_t comm : pending) {
      // One message per communicator and round, then look at the
      // application's receives again: a later message may be theirs.
      if (transport.drain_one(comm)) {
        ++drained;
        progress = true;
      }
    }
    if (!progress) transport.idle();
  }
}

} // namespace ckpt::detail::pmpi
