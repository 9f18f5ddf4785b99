// Channel closure at a checkpoint and channel restoration after a restart
// (docs/PROTOCOL.md). All MPI calls here are PMPI_ calls on private
// communicators or on the application's communicators for draining.
#include "channel_participant.hpp"

#include "channel.hpp"
#include "drain.hpp"
#include "layer_lock.hpp"
#include "pending_state.hpp"
#include "snapshot.hpp"

#include "error.hpp"
#include "mpi_util.hpp"
#include "participant.hpp"
#include "runtime.hpp"

#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ckpt::detail::pmpi {

namespace {

/// Rank translation of one communicator to the runtime communicator.
struct CommView {
  MPI_Comm comm = MPI_COMM_NULL;
  CommState *state = nullptr;
  std::uint64_t key = 0;         ///< id in the exchange (untracked for unstable ones)
  std::vector<int> to_runtime;   ///< local peer rank -> runtime rank (MPI_UNDEFINED if none)
  std::vector<int> from_runtime; ///< runtime rank -> local peer rank (-1 if none)
};

std::vector<CommView> view_comms(MPI_Comm runtime_comm, int runtime_size) {
  MPI_Group runtime_group;
  check_mpi(PMPI_Comm_group(runtime_comm, &runtime_group), "MPI_Comm_group");
  std::vector<CommView> out;
  for (auto [comm, state] : layer().live_comms()) {
    CommView v;
    v.comm = comm;
    v.state = state;
    v.key = state->stable ? state->id : comm_id::untracked;
    MPI_Group g;
    check_mpi(state->inter ? PMPI_Comm_remote_group(comm, &g) : PMPI_Comm_group(comm, &g),
              "MPI_Comm_group");
    const int n = state->counts.peers();
    std::vector<int> ranks(n);
    for (int i = 0; i < n; ++i)
      ranks[i] = i;
    v.to_runtime.assign(n, MPI_UNDEFINED);
    check_mpi(PMPI_Group_translate_ranks(g, n, ranks.data(), runtime_group, v.to_runtime.data()),
              "MPI_Group_translate_ranks");
    PMPI_Group_free(&g);
    v.from_runtime.assign(runtime_size, -1);
    for (int i = 0; i < n; ++i)
      if (v.to_runtime[i] != MPI_UNDEFINED) v.from_runtime[v.to_runtime[i]] = i;
    out.push_back(std::move(v));
  }
  PMPI_Group_free(&runtime_group);
  return out;
}

/// The drain's MPI side: probes and receives on the application's
/// communicators, tests the application's pending receives.
class MpiDrainTransport final : public DrainTransport {
public:
  explicit MpiDrainTransport(const std::vector<CommView> &views) : m_views(views) {}

  void progress_application_receives() override { complete_pending_receives(); }

  bool drain_one(std::uint64_t comm_id) override {
    for (const CommView &v : m_views) {
      if (v.key != comm_id) continue;
      int flag = 0;
      MPI_Status st;
      check_mpi(PMPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, v.comm, &flag, &st), "MPI_Iprobe (drain)");
      if (!flag) continue;
      DrainedMessage m = receive_probed(v.comm, comm_id, st);
      v.state->counts.on_receive(st.MPI_SOURCE);
      layer().drained().push(std::move(m));
      layer().drained_changed();
      return true;
    }
    return false;
  }

  [[nodiscard]] std::uint64_t received(std::uint64_t comm_id, int source) const override {
    std::uint64_t n = 0;
    for (const CommView &v : m_views) {
      if (v.key != comm_id) continue;
      const int local = v.from_runtime[source];
      if (local >= 0) n += v.state->counts.received(local);
    }
    return n;
  }

  void idle() override { sched_yield(); }

private:
  const std::vector<CommView> &m_views;
};

std::string window_problem() {
  for (const auto &[win, w] : layer().windows()) {
    if (w.locks > 0 || w.lock_all) return "an RMA passive-target epoch (MPI_Win_lock) is open";
    if (w.access || w.exposure)
      return "an RMA access or exposure epoch (MPI_Win_start/post) is open";
    if (w.unsynced_ops) return "RMA operations were issued since the last MPI_Win_fence";
  }
  return {};
}

/// Problems that make the channel state impossible to capture, found before
/// touching any channel.
std::string static_problem() {
  if (const int n = threads_in_blocking_calls(); n > 0)
    return std::to_string(n) +
           " other thread(s) are inside a blocking MPI call: under MPI_THREAD_MULTIPLE, "
           "checkpoint where only the calling thread uses MPI (after joining the threads or a "
           "barrier among them)";
  if (const char *call = failed_call())
    return std::string("the layer failed inside ") + call +
           " earlier (see the error logged then): its accounting of messages may be incomplete";
  if (std::string w = window_problem(); !w.empty()) return w;
  if (layer().freed_active_receives() > 0)
    return "an active receive request was freed with MPI_Request_free: its message cannot be "
           "accounted";
  return {};
}

void exchange_counts(MPI_Comm comm, int size, const std::vector<CommView> &views,
                     std::vector<Expectation> &expected) {
  std::vector<SentChannel> sent;
  for (const CommView &v : views)
    for (int p = 0; p < v.state->counts.peers(); ++p) {
      const std::uint64_t n = v.state->counts.sent(p);
      if (n == 0) continue;
      if (v.to_runtime[p] == MPI_UNDEFINED)
        throw StateError("messages were sent to a process outside the communicator libckpt was "
                         "initialised on: the channel cannot be closed");
      sent.push_back({v.key, v.to_runtime[p], n});
    }
  const auto plan = plan_count_records(sent, size);
  const std::vector<std::vector<CountRecord>> per_source =
      exchange_records(comm, plan, "MPI_Alltoall(v) (channel counts)");
  expected = expectations_from(per_source);
}

/// Slots of the pending nonblocking collectives every member of their
/// communicator has entered: those complete without anyone else. Collective
/// over `comm` (the private runtime communicator): one MPI_Allreduce when no
/// rank has a pending collective, otherwise an MPI_Allgatherv of every rank's
/// per-communicator collective counts.
std::set<std::uint32_t> collectives_entered_by_all(MPI_Comm comm) {
  int mine = 0;
  layer().requests().for_each([&](std::uint32_t, RequestSlot &s) {
    if (s.kind == RequestKind::collective && s.state == SlotState::active) mine = 1;
  });
  int any = 0;
  check_mpi(PMPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce (collectives)");
  if (!any) return {};
  // (id, collectives since creation) of every tracked communicator.
  std::vector<std::uint64_t> records;
  for (auto [c, s] : layer().live_comms())
    if (s->stable) records.insert(records.end(), {s->id, s->collective_seq});
  int size = 0;
  PMPI_Comm_size(comm, &size);
  const int n = static_cast<int>(records.size());
  std::vector<int> counts(size), displs(size);
  check_mpi(PMPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, comm),
            "MPI_Allgather (collective counts)");
  int total = 0;
  for (int r = 0; r < size; ++r) {
    displs[r] = total;
    total += counts[r];
  }
  std::vector<std::uint64_t> all(static_cast<std::size_t>(total));
  check_mpi(PMPI_Allgatherv(records.data(), n, MPI_UINT64_T, all.data(), counts.data(),
                            displs.data(), MPI_UINT64_T, comm),
            "MPI_Allgatherv (collective counts)");
  struct Seen {
    int members = 0;
    std::uint64_t least = UINT64_MAX;
  };
  std::map<std::uint64_t, Seen> seen;
  for (std::size_t i = 0; i + 1 < all.size(); i += 2) {
    Seen &e = seen[all[i]];
    ++e.members;
    e.least = std::min(e.least, all[i + 1]);
  }
  std::set<std::uint32_t> out;
  layer().requests().for_each([&](std::uint32_t index, RequestSlot &s) {
    if (s.kind != RequestKind::collective || s.state != SlotState::active || !s.comm ||
        !s.comm->stable)
      return;
    const auto it = seen.find(s.comm->id);
    if (it != seen.end() && it->second.members == s.comm->counts.peers() &&
        it->second.least > s.collective_seq)
      out.insert(index);
  });
  return out;
}

/// After the drain every message sent before the checkpoint was received,
/// so pending sends (also started persistent sends) complete, and so do the
/// nonblocking collectives every member entered. Pending receives and the
/// other collectives stay pending: capture_pending() records them.
void settle_requests(const std::set<std::uint32_t> &entered_by_all) {
  layer().requests().for_each([&](std::uint32_t index, RequestSlot &s) {
    if (s.state != SlotState::active) return;
    MPI_Request real = real_request(s.real);
    MPI_Status st;
    switch (s.kind) {
    case RequestKind::send:
    case RequestKind::persistent_send:
    case RequestKind::matched_receive:
      check_mpi(PMPI_Wait(&real, &st), "MPI_Wait (pending request at checkpoint)");
      break;
    case RequestKind::collective: {
      int flag = 0;
      check_mpi(PMPI_Test(&real, &flag, &st), "MPI_Test (nonblocking collective)");
      if (!flag && !entered_by_all.count(index)) return;
      if (!flag) check_mpi(PMPI_Wait(&real, &st), "MPI_Wait (nonblocking collective)");
      break;
    }
    default: return; // a receive nothing in flight matches: captured as pending
    }
    s.real = opaque(real);
    Layer::account(s, &st);
    s.result = envelope_of(st);
    s.state = SlotState::completed;
  });
}

void drop_undeliverable(ChannelSnapshot &snap, const std::set<std::uint64_t> &described) {
  std::vector<DrainedMessage> messages;
  std::vector<std::uint64_t> tickets;
  for (std::size_t i = 0; i < snap.messages.size(); ++i) {
    if (!described.count(snap.messages[i].comm_id)) continue;
    messages.push_back(std::move(snap.messages[i]));
    tickets.push_back(i < snap.tickets.size() ? snap.tickets[i] : 0);
  }
  snap.messages = std::move(messages);
  snap.tickets = std::move(tickets);
}

std::string rank_prefix(int rank) { return "rank " + std::to_string(rank) + ": "; }

class ChannelParticipant final : public CheckpointParticipant {
public:
  void before_checkpoint(Runtime &runtime) override {
    // Held for the whole channel closure: other threads entering MPI wait
    // (layer_lock.hpp).
    const LayerLock lock;
    const int rank = runtime.rank();
    const auto fail_if = [&](const std::string &problem) {
      agree(runtime.comm(), capture([&] {
              if (!problem.empty())
                throw StateError("checkpoint refused by the PMPI layer on rank " +
                                 std::to_string(rank) + ": " + problem);
            }));
    };
    fail_if(static_problem());

    // 1. Channel counts go over a private duplicate of the runtime's
    //    communicator; 2. drain; 3. settle the requests.
    Comm priv = Comm::duplicate(runtime.comm());
    const int size = runtime.size();
    std::vector<CommView> views = view_comms(priv.get(), size);
    std::vector<Expectation> expected;
    std::exception_ptr err = capture([&] { exchange_counts(priv.get(), size, views, expected); });
    agree(priv.get(), err);
    MpiDrainTransport transport(views);
    std::uint64_t drained = 0;
    err = capture([&] {
      try {
        drained = drain_channels(transport, expected, comm_id::untracked);
      } catch (const DrainError &e) {
        throw StateError("checkpoint refused by the PMPI layer on rank " + std::to_string(rank) +
                         ": " + e.what() + " (intercommunicator traffic cannot be captured)");
      }
    });
    agree(priv.get(), err);
    std::set<std::uint32_t> entered;
    err = capture([&] {
      entered = collectives_entered_by_all(priv.get());
      settle_requests(entered);
    });
    agree(priv.get(), err);
    // Every message sent before this point has been received: the channels
    // are empty, counts restart from zero.
    layer().reset_counts();

    // 4. What stays pending (receives, persistent requests, barriers,
    //    messages matched by a probe and not yet received).
    ChannelSnapshot snap;
    snap.comms = layer().describe_comms();
    RuntimeRegions regions(runtime);
    PendingCapture pending;
    err = capture([&] {
      pending = capture_pending(regions, snap.comms);
      if (pending.problem.empty()) pending.problem = receive_matched_messages(snap.comms);
    });
    agree(priv.get(), err);
    fail_if(pending.problem);
    snap.pending = std::move(pending.requests);

    // 5. The snapshot: drained messages and requests completed for the app.
    snap.request_null = opaque(MPI_REQUEST_NULL);
    layer().requests().for_each([&](std::uint32_t index, RequestSlot &s) {
      if (s.state == SlotState::completed && s.kind != RequestKind::persistent_send &&
          s.kind != RequestKind::persistent_receive)
        snap.requests.push_back({index, s.kind, s.result});
    });
    m_blob = encode_snapshot(snap, layer().drained()); // each message copied once
    if (const char *report = std::getenv("CKPT_PMPI_REPORT"); report && *report && *report != '0')
      std::fprintf(stderr,
                   "[ckpt][rank %d] libckpt_pmpi: channels closed: %llu message(s) drained now, "
                   "%zu held, %zu request(s) completed for the application, %zu pending\n",
                   rank, static_cast<unsigned long long>(drained), layer().drained().size(),
                   snap.requests.size(), snap.pending.size());
    runtime.protect(snapshot_region_id, "ckpt.pmpi.channels", m_blob.data(), m_blob.size(), 1,
                    CKPT_BYTE);
  }

  void after_checkpoint(Runtime &runtime, bool) override {
    try {
      runtime.unprotect(snapshot_region_id);
    } catch (const Error &) {
      // not protected: before_checkpoint failed early
    }
    m_blob.clear();
    m_blob.shrink_to_fit();
  }

  void after_restart(Runtime &runtime) override {
    const LayerLock lock;
    const std::optional<std::size_t> bytes = runtime.restored_bytes(snapshot_region_id);
    if (!bytes) return; // written without the PMPI layer
    std::vector<unsigned char> blob(*bytes);
    runtime.protect(snapshot_region_id, "ckpt.pmpi.channels", blob.data(), blob.size(), 1,
                    CKPT_BYTE);
    runtime.unprotect(snapshot_region_id);
    ChannelSnapshot snap;
    try {
      snap = decode_snapshot(blob.data(), blob.size());
    } catch (const SnapshotFormatError &e) {
      throw FormatError(std::string("rank ") + std::to_string(runtime.rank()) + ": " + e.what());
    }
    // Saved communicators -> live ones, by identity (comm_identity.hpp).
    // Messages drained on a communicator freed before the checkpoint can
    // never be received: they are not carried over.
    std::set<std::uint64_t> described{comm_id::world, comm_id::self};
    for (const CommDescriptor &c : snap.comms)
      described.insert(c.id);
    drop_undeliverable(snap, described);
    std::vector<std::uint64_t> required;
    for (const DrainedMessage &m : snap.messages)
      required.push_back(m.comm_id);
    for (const PendingRequest &p : snap.pending)
      required.push_back(p.comm_id);
    std::map<std::uint64_t, std::uint64_t> live;
    try {
      live = match_communicators(snap.comms, layer().describe_comms(), required);
    } catch (const CommMatchError &e) {
      throw StateError(rank_prefix(runtime.rank()) + e.what());
    }
    for (DrainedMessage &m : snap.messages)
      m.comm_id = live.at(m.comm_id);
    for (PendingRequest &p : snap.pending)
      p.comm_id = live.at(p.comm_id);

    if (real_request(snap.request_null) != MPI_REQUEST_NULL)
      layer().set_stale_null(real_request(snap.request_null));
    layer().drained().clear();
    for (std::size_t i = 0; i < snap.messages.size(); ++i) {
      const std::uint64_t ticket = i < snap.tickets.size() ? snap.tickets[i] : 0;
      if (ticket)
        layer().drained().push_reserved(std::move(snap.messages[i]), ticket);
      else
        layer().drained().push(std::move(snap.messages[i]));
    }
    layer().drained_changed();
    for (const CompletedRequest &c : snap.requests) {
      if (!layer().requests().claim(c.index))
        throw StateError(rank_prefix(runtime.rank()) +
                         "a request created before ckpt_restart() occupies the handle of a "
                         "request restored from the checkpoint; restart before posting requests");
      RequestSlot &s = layer().requests()[c.index];
      s.kind = c.kind;
      s.state = SlotState::completed;
      s.result = c.result;
      s.real = opaque(MPI_REQUEST_NULL);
    }
    RuntimeRegions regions(runtime);
    try {
      restore_pending(regions, std::move(snap.pending));
    } catch (const StateError &e) {
      throw StateError(rank_prefix(runtime.rank()) + e.what());
    }
    layer().reset_counts();
  }

private:
  std::vector<unsigned char> m_blob;
};

ChannelParticipant g_participant;
bool g_attached = false;

} // namespace

void attach_participant() {
  if (g_attached) return;
  register_participant(&g_participant);
  g_attached = true;
}

void detach_participant() noexcept {
  if (!g_attached) return;
  unregister_participant(&g_participant);
  g_attached = false;
}

} // namespace ckpt::detail::pmpi
