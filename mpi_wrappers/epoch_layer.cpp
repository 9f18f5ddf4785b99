// The PMPI layer's part of a nonblocking checkpoint epoch (docs/PROTOCOL.md
// 8): freezes the channel counts at the local checkpoint, builds the
// markers, records late messages (from the application's receives and by
// draining what is still in flight), and produces the channel snapshot.
// Every MPI call here is PMPI_ on the application's communicators.
#include "channel.hpp"
#include "early_messages.hpp"
#include "epoch_cut.hpp"
#include "epoch_hooks.hpp"
#include "layer_lock.hpp"
#include "pending_state.hpp"
#include "snapshot.hpp"

#include "epoch_participant.hpp"
#include "error.hpp"
#include "mpi_util.hpp"
#include "participant.hpp"
#include "runtime.hpp"

#include <xxhash.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace ckpt::detail::pmpi {

bool g_epoch_open = false;
bool g_send_hook = false;

namespace {

EpochCut g_cut;
SendLog g_send_log;
Suppressor g_suppressor;

/// Region id of the epoch log (send hashes and receive counts).
constexpr int k_epoch_log_region = -302;

void update_send_hook() noexcept { g_send_hook = g_epoch_open || g_suppressor.active(); }

std::uint64_t payload_hash(const void *buf, int count, MPI_Datatype datatype, MPI_Comm comm) {
  int size = 0, position = 0;
  check_mpi(PMPI_Pack_size(count, datatype, comm, &size), "MPI_Pack_size (send hash)");
  std::vector<unsigned char> packed(static_cast<std::size_t>(size));
  check_mpi(PMPI_Pack(buf, count, datatype, packed.data(), size, &position, comm),
            "MPI_Pack (send hash)");
  return XXH3_64bits(packed.data(), static_cast<std::size_t>(position));
}

/// Per communicator id: its ranks as ranks of the runtime communicator.
std::map<std::uint64_t, std::vector<int>> g_to_runtime;
MPI_Group g_runtime_group = MPI_GROUP_NULL;

const std::vector<int> &runtime_ranks(const CommState &s) {
  auto it = g_to_runtime.find(s.id);
  if (it != g_to_runtime.end()) return it->second;
  const auto comm = reinterpret_cast<MPI_Comm>(s.handle);
  MPI_Group g;
  check_mpi(PMPI_Comm_group(comm, &g), "MPI_Comm_group");
  const int n = s.counts.peers();
  std::vector<int> ranks(n), out(n, MPI_UNDEFINED);
  for (int i = 0; i < n; ++i)
    ranks[i] = i;
  const int rc = PMPI_Group_translate_ranks(g, n, ranks.data(), g_runtime_group, out.data());
  PMPI_Group_free(&g);
  check_mpi(rc, "MPI_Group_translate_ranks");
  return g_to_runtime.emplace(s.id, std::move(out)).first->second;
}

std::string comm_text(const CommState &s) { return "communicator id " + std::to_string(s.id); }

/// What the nonblocking protocol cannot capture at a local checkpoint (the
/// rest of the pending state is recorded by capture_pending()).
std::string refusal() {
  if (const char *call = failed_call())
    return std::string("the layer failed inside ") + call +
           " earlier: its accounting is incomplete";
  for (const auto &[win, w] : layer().windows())
    if (w.locks > 0 || w.lock_all || w.access || w.exposure || w.unsynced_ops)
      return "an RMA epoch is open or has unsynchronised operations";
  if (layer().freed_active_receives() > 0)
    return "an active receive request was freed with MPI_Request_free";
  std::string out;
  layer().requests().for_each([&](std::uint32_t, RequestSlot &s) {
    if (!out.empty() || s.state != SlotState::active) return;
    const std::string where =
        s.comm ? " on " + comm_text(*s.comm) : std::string(" on an unknown communicator");
    // A started persistent send cannot wait here (its receiver may not be
    // ready), and started again after a restart it would send twice.
    if (s.kind == RequestKind::persistent_send)
      out = "a persistent send (tag " + std::to_string(s.tag) + where +
            ") is active: complete it before the checkpoint site";
    if (s.kind == RequestKind::matched_receive) out = "an MPI_Imrecv is pending" + where;
  });
  if (!out.empty()) return out;
  for (const auto &[comm, s] : layer().live_comms())
    if ((!s->stable || s->inter) && !s->tags.all().empty())
      return std::string("messages went over ") +
             (s->inter ? "an intercommunicator" : "a communicator created by an unwrapped call") +
             ", which the nonblocking protocol cannot name";
  return {};
}

class EpochLayer final : public EpochParticipant {
public:
  std::vector<std::vector<unsigned char>> open_epoch(Runtime &runtime, std::uint64_t epoch,
                                                     std::uint64_t byte_limit) override {
    // The runtime calls these from a site, not through a wrapper: hold the
    // layer lock as the hooks do (docs/PROTOCOL.md 8).
    LayerLock lock;
    // Messages sent by different threads have no order in MPI: the
    // sequence numbers that name messages (tag_counts.hpp) would not hold.
    if (thread_multiple())
      throw StateError("protocol = nonblocking cannot name messages under "
                       "MPI_THREAD_MULTIPLE (sends from different threads have no order): use "
                       "protocol = blocking");
    if (std::string why = refusal(); !why.empty())
      throw StateError("the nonblocking checkpoint cannot capture this rank's state: " + why);
    const MPI_Comm runtime_comm = runtime.comm();
    // What stays pending (receives, persistent requests, barriers) and the
    // messages matched by a probe, as the blocking checkpoint records them.
    m_base = ChannelSnapshot{};
    m_base.comms = layer().describe_comms();
    RuntimeRegions regions(runtime);
    PendingCapture pending = capture_pending(regions, m_base.comms);
    if (pending.problem.empty()) pending.problem = receive_matched_messages(m_base.comms);
    if (!pending.problem.empty())
      throw StateError("the nonblocking checkpoint cannot capture this rank's state: " +
                       pending.problem);
    m_base.pending = std::move(pending.requests);
    int size = 0;
    check_mpi(PMPI_Comm_size(runtime_comm, &size), "MPI_Comm_size");
    if (g_runtime_group != MPI_GROUP_NULL) PMPI_Group_free(&g_runtime_group);
    check_mpi(PMPI_Comm_group(runtime_comm, &g_runtime_group), "MPI_Comm_group");
    g_to_runtime.clear();

    std::vector<std::pair<CutChannel, std::uint64_t>> received;
    std::vector<LoggedChannel> sent;
    std::vector<std::vector<MarkerEntry>> marks(static_cast<std::size_t>(size));
    m_collectives.clear();
    for (const auto &[comm, s] : layer().live_comms()) {
      if (!s->stable || s->inter) continue;
      m_collectives.emplace_back(s->id, s->collectives);
      const std::vector<TagCount> counts = s->tags.all();
      if (counts.empty()) continue;
      const std::vector<int> &to_runtime = runtime_ranks(*s);
      for (const TagCount &c : counts) {
        const int peer = to_runtime[c.peer];
        if (peer == MPI_UNDEFINED)
          throw StateError("messages went to or came from a process outside the communicator "
                           "libckpt was initialised on (" +
                           comm_text(*s) + ")");
        if (c.received) received.push_back({{peer, s->id, c.peer, c.tag}, c.received});
        if (c.sent) {
          marks[peer].push_back({s->id, s->rank, c.tag, c.sent});
          sent.push_back({{s->id, c.peer, c.tag}, c.sent, {}});
        }
      }
    }
    // The snapshot's base: undelivered drained messages and the requests the
    // application will find completed after a restart.
    m_base.request_null = opaque(MPI_REQUEST_NULL);
    m_base.messages = layer().drained().all();
    m_base.tickets = layer().drained().tickets();
    layer().requests().for_each([&](std::uint32_t index, RequestSlot &s) {
      if (s.kind == RequestKind::persistent_send || s.kind == RequestKind::persistent_receive)
        return; // in m_base.pending
      if (s.state == SlotState::completed)
        m_base.requests.push_back({index, s.kind, s.result});
      else if (s.state == SlotState::active && s.kind == RequestKind::send)
        m_base.requests.push_back({index, s.kind, Envelope{}});
    });
    g_cut.open(epoch, received, size, byte_limit);
    g_send_log.open(std::move(sent));
    g_epoch_open = true;
    update_send_hook();
    std::vector<std::vector<unsigned char>> out;
    out.reserve(marks.size());
    for (const auto &m : marks)
      out.push_back(encode_marker(m));
    return out;
  }

  void on_marker(int from, const unsigned char *data, std::size_t bytes) override {
    LayerLock lock;
    try {
      g_cut.on_marker(from, decode_marker(data, bytes));
    } catch (const std::invalid_argument &e) {
      g_cut.fail(e.what());
    }
  }

  bool progress_epoch(std::string &problem) override {
    LayerLock lock;
    if (!g_cut.complete()) {
      complete_pending_receives();
      for (const auto &[channel, missing] : g_cut.deficits())
        drain(channel, missing);
    }
    if (!g_cut.complete()) return false;
    problem = g_cut.problem();
    return true;
  }

  std::vector<unsigned char> epoch_snapshot() override {
    LayerLock lock;
    ChannelSnapshot snap = m_base;
    std::vector<LateMessage> late = g_cut.late_messages();
    for (LateMessage &m : late) {
      snap.messages.push_back({m.comm_id, m.source, m.tag, std::move(m.data)});
      if (!snap.tickets.empty()) snap.tickets.push_back(0);
    }
    if (const char *report = std::getenv("CKPT_PMPI_REPORT"); report && *report && *report != '0')
      std::fprintf(stderr,
                   "[ckpt] libckpt_pmpi: epoch %llu: %zu late message(s) recorded, %zu held, %zu "
                   "request(s) completed for the application\n",
                   static_cast<unsigned long long>(g_cut.epoch()), late.size(),
                   m_base.messages.size(), snap.requests.size());
    return encode_snapshot(snap);
  }

  std::vector<unsigned char> epoch_log() override {
    LayerLock lock;
    EpochLogSnapshot snap;
    snap.sent = g_send_log.channels();
    for (const auto &[c, n] : g_cut.at_checkpoint())
      snap.received.push_back({c.from, c.comm_id, c.source, my_rank_in(c.comm_id), c.tag, n});
    return encode_epoch_log(snap);
  }

  std::vector<unsigned char> epoch_report() override {
    LayerLock lock;
    EpochReport r;
    r.collectives = m_collectives;
    for (const auto &[c, n] : g_cut.early())
      r.early.push_back({c.from, c.comm_id, my_rank_in(c.comm_id), c.tag, n});
    for (const LoggedChannel &c : g_send_log.channels())
      r.prefix.push_back({c.channel.comm_id, c.channel.dest, c.channel.tag, c.hashes.size()});
    return encode_report(r);
  }

  std::string check_cut(const std::vector<std::vector<unsigned char>> &reports) override {
    std::vector<EpochReport> all;
    all.reserve(reports.size());
    for (const auto &b : reports)
      all.push_back(decode_report(b.data(), b.size()));
    return pmpi::check_cut(all);
  }

  void close_epoch() noexcept override {
    LayerLock lock;
    g_cut.close();
    g_send_log.close();
    g_epoch_open = false;
    update_send_hook();
    m_base = ChannelSnapshot{};
    m_collectives.clear();
  }

private:
  static int my_rank_in(std::uint64_t comm_id) {
    const auto [comm, s] = layer().find_comm(comm_id);
    return s ? s->rank : -1;
  }

  /// Receives up to `missing` late messages of `channel` that wait in the
  /// implementation's queue into the drained store (and the record).
  static void drain(const CutChannel &channel, std::uint64_t missing) {
    const auto [comm, s] = layer().find_comm(channel.comm_id);
    if (!s) {
      g_cut.fail("late messages on " + std::to_string(channel.comm_id) +
                 " cannot be received: the communicator was freed");
      return;
    }
    for (std::uint64_t i = 0; i < missing; ++i) {
      int flag = 0;
      MPI_Status st;
      check_mpi(PMPI_Iprobe(channel.source, channel.tag, comm, &flag, &st), "MPI_Iprobe (drain)");
      if (!flag) return;
      DrainedMessage m = receive_probed(comm, channel.comm_id, st);
      s->counts.on_receive(channel.source);
      const std::uint64_t seq = s->tags.on_receive(channel.source, channel.tag);
      if (g_cut.on_receive(channel, seq)) g_cut.record(channel, seq, m.data);
      layer().drained().push(std::move(m));
      layer().drained_changed();
    }
  }

  ChannelSnapshot m_base;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> m_collectives;
};

EpochLayer g_epoch_layer;

/// After a restart from a nonblocking checkpoint: every receiver tells each
/// sender how many messages of each channel it had at its checkpoint; the
/// sender arms its suppressor with those beyond its own checkpoint.
class EarlyRestart final : public CheckpointParticipant {
public:
  void before_checkpoint(Runtime &) override {}
  void after_checkpoint(Runtime &, bool) override {}
  void after_restart(Runtime &runtime) override {
    LayerLock lock;
    g_suppressor = Suppressor{};
    update_send_hook();
    const std::optional<std::size_t> bytes = runtime.restored_bytes(k_epoch_log_region);
    if (!bytes) return; // not a nonblocking checkpoint: the same on every rank
    std::vector<unsigned char> blob(*bytes);
    runtime.protect(k_epoch_log_region, "ckpt.pmpi.epoch_log", blob.data(), blob.size(), 1,
                    CKPT_BYTE);
    runtime.unprotect(k_epoch_log_region);
    EpochLogSnapshot log;
    try {
      log = decode_epoch_log(blob.data(), blob.size());
    } catch (const std::invalid_argument &e) {
      throw FormatError("rank " + std::to_string(runtime.rank()) + ": region -302: " + e.what());
    }
    const int size = runtime.size();
    std::vector<std::vector<ReceivedCount>> out(static_cast<std::size_t>(size));
    for (const ReceivedCount &r : log.received)
      if (r.from >= 0 && r.from < size) out[static_cast<std::size_t>(r.from)].push_back(r);
    const std::vector<std::vector<ReceivedCount>> in =
        exchange_records(runtime.comm(), out, "MPI_Alltoall(v) (early messages)");
    std::vector<std::pair<OutChannel, std::uint64_t>> received;
    for (const auto &from : in)
      for (const ReceivedCount &r : from)
        received.push_back({{r.comm_id, r.dest, r.tag}, r.received});
    try {
      g_suppressor.arm(log.sent, received);
    } catch (const std::runtime_error &e) {
      throw StateError("rank " + std::to_string(runtime.rank()) + ": " + e.what());
    }
    update_send_hook();
    if (const char *report = std::getenv("CKPT_PMPI_REPORT"); report && *report && *report != '0')
      std::fprintf(stderr,
                   "[ckpt][rank %d] libckpt_pmpi: restart: %llu early message(s) to skip when "
                   "sent again\n",
                   runtime.rank(), static_cast<unsigned long long>(g_suppressor.remaining()));
  }
};

EarlyRestart g_early_restart;

struct Registration {
  Registration() noexcept {
    set_epoch_participant(&g_epoch_layer);
    register_participant(&g_early_restart);
  }
  ~Registration() {
    set_epoch_participant(nullptr);
    unregister_participant(&g_early_restart);
  }
} g_registration;

} // namespace

void epoch_received(CommState *comm, int source, int tag, std::uint64_t seq, const void *buf,
                    MPI_Datatype datatype, const MPI_Status *status) {
  if (!comm->stable || comm->inter) {
    g_cut.fail("a message arrived over a communicator the nonblocking protocol cannot name");
    return;
  }
  const int from = runtime_ranks(*comm)[source];
  const CutChannel channel{from, comm->id, source, tag};
  if (!g_cut.on_receive(channel, seq)) return;
  const auto c = reinterpret_cast<MPI_Comm>(comm->handle);
  int n = 0;
  check_mpi(PMPI_Get_count(status, datatype, &n), "MPI_Get_count (late message)");
  if (n == MPI_UNDEFINED) {
    g_cut.fail("a late message holds a partial element of its receive's datatype");
    return;
  }
  int size = 0, position = 0;
  check_mpi(PMPI_Pack_size(n, datatype, c, &size), "MPI_Pack_size (late message)");
  std::vector<unsigned char> data(static_cast<std::size_t>(size));
  check_mpi(PMPI_Pack(buf, n, datatype, data.data(), size, &position, c),
            "MPI_Pack (late message)");
  data.resize(static_cast<std::size_t>(position));
  g_cut.record(channel, seq, std::move(data));
}

bool epoch_send(CommState *comm, int dest, int tag, const void *buf, int count,
                MPI_Datatype datatype) {
  if (!comm->stable || comm->inter) return false;
  const OutChannel channel{comm->id, dest, tag};
  const auto c = reinterpret_cast<MPI_Comm>(comm->handle);
  if (g_suppressor.active()) {
    bool skip = false;
    try {
      skip = g_suppressor.skip(channel, payload_hash(buf, count, datatype, c));
    } catch (const std::runtime_error &e) {
      throw StateError(e.what());
    }
    update_send_hook();
    if (skip) return true;
  }
  if (g_epoch_open && g_send_log.deterministic())
    g_send_log.sent(channel, payload_hash(buf, count, datatype, c));
  return false;
}

void epoch_nondeterministic() noexcept { g_send_log.nondeterministic(); }

void count_probed_receive(CommState *comm, int source, int tag) {
  const std::uint64_t seq = comm->tags.on_receive(source, tag);
  if (!g_epoch_open || !comm->stable || comm->inter) return;
  const CutChannel channel{runtime_ranks(*comm)[source], comm->id, source, tag};
  if (g_cut.on_receive(channel, seq))
    g_cut.fail("a message matched by MPI_Mprobe/MPI_Improbe while the checkpoint epoch was open "
               "may be a late message, which this version cannot record");
}

} // namespace ckpt::detail::pmpi
