#include "drain.hpp"

#include <algorithm>
#include <map>
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

// Messages still missing per communicator (summed over its short channels);
// throws on excess.
std::map<std::uint64_t, std::uint64_t> deficits(const DrainTransport &t,
                                                const std::vector<Expectation> &expected,
                                                std::uint64_t untracked_id) {
  std::map<std::uint64_t, std::uint64_t> out;
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
      out[e.comm_id] += e.sent - got;
    }
  }
  return out;
}

} // namespace

std::uint64_t drain_channels(DrainTransport &transport, const std::vector<Expectation> &expected,
                             std::uint64_t untracked_id) {
  std::uint64_t drained = 0;
  transport.progress_application_receives();
  for (;;) {
    const auto missing = deficits(transport, expected, untracked_id);
    if (missing.empty()) return drained;
    // Take everything waiting, up to what each communicator still misses.
    // A waiting message matched none of the application's receives when it
    // arrived (the implementation matches posted receives first), so it is
    // not theirs; the bound keeps the drain from ever taking more than was
    // sent before the checkpoint.
    bool progress = false;
    for (const auto &[comm, count] : missing)
      for (std::uint64_t i = 0; i < count && transport.drain_one(comm); ++i) {
        ++drained;
        progress = true;
      }
    if (progress) continue;
    // Nothing waiting: what is missing may have completed the application's
    // receives. Testing them costs a pass over them, so only here: the
    // number of such rounds depends on waiting, not on the messages.
    transport.progress_application_receives();
    if (deficits(transport, expected, untracked_id) == missing) transport.idle();
  }
}

} // namespace ckpt::detail::pmpi
