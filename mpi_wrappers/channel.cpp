#include "channel.hpp"
#include "epoch_hooks.hpp"

#include "error.hpp"
#include "mpi_util.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

namespace ckpt::detail::pmpi {

namespace {
Layer g_layer;

std::vector<int> world_ranks(MPI_Group group) {
  int n = 0;
  PMPI_Group_size(group, &n);
  std::vector<int> ranks(n), world(n);
  for (int i = 0; i < n; ++i)
    ranks[i] = i;
  MPI_Group world_group;
  PMPI_Comm_group(MPI_COMM_WORLD, &world_group);
  PMPI_Group_translate_ranks(group, n, ranks.data(), world_group, world.data());
  PMPI_Group_free(&world_group);
  return world;
}

std::vector<int> world_ranks(MPI_Comm comm) {
  MPI_Group g;
  PMPI_Comm_group(comm, &g);
  std::vector<int> out = world_ranks(g);
  PMPI_Group_free(&g);
  return out;
}

/// The name the application gave `comm` with MPI_Comm_set_name (empty: none).
std::string comm_name(MPI_Comm comm) {
  char name[MPI_MAX_OBJECT_NAME] = {};
  int len = 0;
  PMPI_Comm_get_name(comm, name, &len);
  return std::string(name, static_cast<std::size_t>(std::max(0, len)));
}
} // namespace

Layer &layer() noexcept { return g_layer; }

Layer::Layer() = default;

void Layer::start() {
  register_comm(MPI_COMM_WORLD, comm_id::world, true);
  register_comm(MPI_COMM_SELF, comm_id::self, true);
  PMPI_Comm_dup(MPI_COMM_SELF, &m_delivery_comm);
  PMPI_Comm_set_errhandler(m_delivery_comm, MPI_ERRORS_RETURN);
  m_started = true;
}

void Layer::stop() noexcept {
  if (!m_started) return;
  if (!m_drained.empty())
    warn(std::to_string(m_drained.size()) +
         " message(s) drained at a checkpoint were never received by the application");
  int finalized = 0;
  PMPI_Finalized(&finalized);
  if (!finalized && m_delivery_comm != MPI_COMM_NULL) PMPI_Comm_free(&m_delivery_comm);
  m_delivery_comm = MPI_COMM_NULL;
  m_last_comm = MPI_COMM_NULL;
  m_last_state = nullptr;
  m_by_index.clear();
  m_retired.clear();
  m_drained.clear();
  m_drained_pending = 0;
  m_windows.clear();
  m_siblings.clear();
  m_matched.clear();
  m_started = false;
}

CommState *Layer::comm_slow(MPI_Comm comm) {
  if (comm == MPI_COMM_NULL || !m_started) return nullptr;
  const int f = PMPI_Comm_c2f(comm);
  CommState *state = nullptr;
  if (f >= 0 && static_cast<std::size_t>(f) < m_by_index.size() && m_by_index[f] &&
      m_by_index[f]->handle == reinterpret_cast<std::uintptr_t>(comm))
    state = m_by_index[f].get();
  else
    state = register_comm(comm, comm_id::untracked, false);
  m_last_comm = comm;
  m_last_state = state;
  return state;
}

CommState *Layer::register_comm(MPI_Comm comm, std::uint64_t id, bool stable) {
  const int f = PMPI_Comm_c2f(comm);
  if (f < 0) return nullptr;
  auto state = std::make_unique<CommState>();
  int inter = 0, peers = 0;
  PMPI_Comm_test_inter(comm, &inter);
  if (inter)
    PMPI_Comm_remote_size(comm, &peers);
  else
    PMPI_Comm_size(comm, &peers);
  PMPI_Comm_rank(comm, &state->rank);
  state->inter = inter != 0;
  state->stable = stable && !inter;
  state->id = state->stable ? id : comm_id::untracked;
  state->counts = ChannelCounts(peers);
  state->handle = reinterpret_cast<std::uintptr_t>(comm);
  state->created = m_created++;
  if (static_cast<std::size_t>(f) >= m_by_index.size()) m_by_index.resize(f + 1);
  if (m_by_index[f]) m_retired.push_back(std::move(m_by_index[f]));
  m_by_index[f] = std::move(state);
  m_last_comm = MPI_COMM_NULL; // the cache may hold a retired state
  m_last_state = nullptr;
  return m_by_index[f].get();
}

void Layer::comm_created(MPI_Comm parent, MPI_Comm child, std::uint32_t call_kind) {
  CommState *p = comm(parent);
  if (!p || child == MPI_COMM_NULL) return;
  register_child(p->id, p->stable, call_kind, child);
}

void Layer::comm_created_from_group(MPI_Comm parent, MPI_Group, int tag, MPI_Comm child) {
  comm_created(parent, child, create_group_kind(tag));
}

void Layer::comm_merged(MPI_Comm child) {
  if (child != MPI_COMM_NULL) register_child(comm_id::world, true, merge_kind, child);
}

void Layer::register_child(std::uint64_t parent, bool stable, std::uint32_t kind, MPI_Comm child) {
  // The identity: parent, kind of call, members; the ordinal counts only
  // earlier siblings identical in all three, which every member counts alike.
  const std::uint64_t members = members_hash(world_ranks(child));
  const std::uint64_t ordinal = m_siblings.next(parent, kind, members);
  CommState *s = register_comm(child, identity_id(parent, kind, members, ordinal), stable);
  if (!s) return;
  s->parent = parent;
  s->kind = kind;
  s->ordinal = ordinal;
}

void Layer::comm_intercomm(MPI_Comm child) {
  if (child != MPI_COMM_NULL) register_comm(child, comm_id::untracked, false);
}

void Layer::comm_freed(MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) return;
  const int f = PMPI_Comm_c2f(comm);
  if (f >= 0 && static_cast<std::size_t>(f) < m_by_index.size() && m_by_index[f] &&
      m_by_index[f]->handle == reinterpret_cast<std::uintptr_t>(comm))
    m_retired.push_back(std::move(m_by_index[f]));
  m_last_comm = MPI_COMM_NULL;
  m_last_state = nullptr;
}

std::vector<std::pair<MPI_Comm, CommState *>> Layer::live_comms() const {
  std::vector<std::pair<MPI_Comm, CommState *>> out;
  for (const auto &s : m_by_index)
    if (s) out.emplace_back(reinterpret_cast<MPI_Comm>(s->handle), s.get());
  return out;
}

std::vector<std::pair<MPI_Comm, CommState *>> Layer::all_comms() const {
  std::vector<std::pair<MPI_Comm, CommState *>> out = live_comms();
  for (const auto &s : m_retired)
    out.emplace_back(MPI_COMM_NULL, s.get());
  return out;
}

std::vector<CommDescriptor> Layer::describe_comms() const {
  std::vector<std::pair<MPI_Comm, CommState *>> live;
  for (auto [comm, s] : live_comms())
    if (s->stable) live.emplace_back(comm, s);
  std::sort(live.begin(), live.end(),
            [](const auto &a, const auto &b) { return a.second->created < b.second->created; });
  std::vector<CommDescriptor> out;
  for (auto [comm, s] : live) {
    CommDescriptor d;
    d.id = s->id;
    d.parent = s->parent;
    d.kind = s->kind;
    d.ordinal = s->ordinal;
    d.members = world_ranks(comm);
    if (s->id != comm_id::world && s->id != comm_id::self) d.name = comm_name(comm);
    out.push_back(std::move(d));
  }
  return out;
}

std::pair<MPI_Comm, CommState *> Layer::find_comm(std::uint64_t id) const {
  for (const auto &s : m_by_index)
    if (s && s->stable && s->id == id) return {reinterpret_cast<MPI_Comm>(s->handle), s.get()};
  return {MPI_COMM_NULL, nullptr};
}

void Layer::reset_counts() noexcept {
  for (const auto &s : m_by_index)
    if (s) {
      s->counts.reset();
      s->tags.reset();
      s->collectives = 0;
    }
}

MPI_Request Layer::wrap(MPI_Request real, RequestKind kind, CommState *comm, int peer, int tag) {
  const std::uint32_t index = m_requests.allocate();
  RequestSlot &s = m_requests[index];
  s.real = opaque(real);
  s.kind = kind;
  s.comm = comm;
  s.peer = peer;
  s.tag = tag;
  s.order = m_order++;
  if (kind == RequestKind::persistent_send || kind == RequestKind::persistent_receive)
    s.state = SlotState::inactive;
  return virtual_request(index);
}

void Layer::account(RequestSlot &s, const MPI_Status *st) noexcept {
  bool cancelled = false;
  if (s.cancel_requested) {
    int flag = 0;
    PMPI_Test_cancelled(st, &flag);
    cancelled = flag != 0;
  }
  if (!s.comm) return;
  switch (s.kind) {
  case RequestKind::send:
  case RequestKind::persistent_send:
    if (cancelled && s.peer >= 0) {
      s.comm->counts.on_send_cancelled(s.peer);
      s.comm->tags.on_send_cancelled(s.peer, s.tag);
    }
    break;
  case RequestKind::receive:
  case RequestKind::persistent_receive: {
    if (cancelled) break;
    const int src = s.peer == MPI_ANY_SOURCE ? st->MPI_SOURCE : s.peer;
    if (src >= 0 && src < s.comm->counts.peers()) {
      s.comm->counts.on_receive(src);
      count_tagged_receive(s.comm, src, s.tag == MPI_ANY_TAG ? st->MPI_TAG : s.tag, s.args.buf,
                           reinterpret_cast<MPI_Datatype>(s.args.datatype), st);
    }
    break;
  }
  case RequestKind::matched_receive:
  case RequestKind::collective: break;
  }
}

void Layer::finish(MPI_Request *handle) noexcept {
  const std::uint32_t index = slot_of(*handle);
  RequestSlot &s = m_requests[index];
  if (s.kind == RequestKind::persistent_send || s.kind == RequestKind::persistent_receive) {
    s.state = SlotState::inactive;
    s.cancel_requested = false;
    return;
  }
  m_requests.release(index);
  *handle = MPI_REQUEST_NULL;
}

std::optional<std::size_t> Layer::find_drained(const CommState &comm, int source, int tag) const {
  if (!comm.stable || source == MPI_PROC_NULL) return std::nullopt;
  MatchSpec spec;
  spec.comm_id = comm.id;
  spec.source = source;
  spec.tag = tag;
  spec.any_source = source == MPI_ANY_SOURCE;
  spec.any_tag = tag == MPI_ANY_TAG;
  return m_drained.find(spec);
}

int Layer::deliver(DrainedMessage message, void *buf, int count, MPI_Datatype datatype,
                   MPI_Comm comm, MPI_Status *status, Envelope *env) {
  // A message to ourselves on a private communicator lets the implementation
  // unpack into any datatype and compute the status exactly as for the
  // original receive (partial elements, truncation).
  MPI_Status local;
  const int rc =
      PMPI_Sendrecv(message.data.data(), static_cast<int>(message.data.size()), MPI_PACKED, 0, 0,
                    buf, count, datatype, 0, 0, m_delivery_comm, &local);
  Envelope e = envelope_of(local);
  e.source = message.source;
  e.tag = message.tag;
  e.cancelled = false;
  if (env) *env = e;
  if (status != MPI_STATUS_IGNORE) store_envelope(status, e);
  drained_changed();
  if (rc != MPI_SUCCESS) {
    // Report the error as the original receive would have: through the
    // application communicator's error handler.
    PMPI_Comm_call_errhandler(comm, rc);
  }
  return rc;
}

void store_envelope(MPI_Status *status, const Envelope &env) noexcept {
  status->MPI_SOURCE = env.source;
  status->MPI_TAG = env.tag;
  PMPI_Status_set_elements_x(status, MPI_BYTE, static_cast<MPI_Count>(env.bytes));
  PMPI_Status_set_cancelled(status, env.cancelled ? 1 : 0);
}

Envelope envelope_of(const MPI_Status &status) noexcept {
  Envelope e;
  e.source = status.MPI_SOURCE;
  e.tag = status.MPI_TAG;
  MPI_Count bytes = 0;
  PMPI_Get_elements_x(&status, MPI_BYTE, &bytes);
  e.bytes = bytes > 0 ? static_cast<std::uint64_t>(bytes) : 0;
  int cancelled = 0;
  PMPI_Test_cancelled(&status, &cancelled);
  e.cancelled = cancelled != 0;
  return e;
}

void note_collective(MPI_Comm comm) {
  if (CommState *s = layer().comm(comm)) {
    ++s->collectives;
    ++s->collective_seq;
  }
}

void note_icollective(MPI_Comm comm, MPI_Request *request) {
  CommState *s = layer().comm(comm);
  std::uint64_t seq = 0;
  if (s) {
    ++s->collectives;
    seq = s->collective_seq++;
  }
  *request = layer().wrap(*request, RequestKind::collective, s, MPI_PROC_NULL, 0);
  RequestSlot &slot = layer().requests()[slot_of(*request)];
  slot.call = RequestCall::other;
  slot.collective_seq = seq;
}

void note_comm_created(MPI_Comm parent, MPI_Comm child, std::uint32_t call_kind) noexcept {
  try {
    layer().comm_created(parent, child, call_kind);
  } catch (...) {
    warn("cannot track a new communicator (out of memory)");
  }
}

void note_rma_operation(MPI_Win win) noexcept {
  try {
    layer().window(win).unsynced_ops = true;
  } catch (...) {
  }
}

void warn(const std::string &message) noexcept {
  int rank = -1, initialized = 0, finalized = 0;
  PMPI_Initialized(&initialized);
  PMPI_Finalized(&finalized);
  if (initialized && !finalized) PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "[ckpt][rank %d] warning: libckpt_pmpi: %s\n", rank, message.c_str());
}

// ---- failures inside a wrapper ---------------------------------------------

int g_injected_fault = -1;

namespace {
std::atomic<const char *> g_failed_call{nullptr};

/// Logs the exception being handled; returns false when MPI cannot be used.
bool log_failure(const char *call) noexcept {
  const char *what = "unknown exception";
  try {
    throw;
  } catch (const std::exception &e) {
    what = e.what();
  } catch (...) {
  }
  const char *none = nullptr;
  g_failed_call.compare_exchange_strong(none, call);
  int rank = -1, initialized = 0, finalized = 0;
  PMPI_Initialized(&initialized);
  PMPI_Finalized(&finalized);
  const bool usable = initialized && !finalized;
  if (usable) PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr,
               "[ckpt][rank %d] error: libckpt_pmpi: %s: %s (returning MPI_ERR_INTERN; the "
               "checkpoint layer refuses checkpoints from now on)\n",
               rank, call, what);
  return usable;
}

[[noreturn]] void abort_job(const char *call) noexcept {
  std::fprintf(stderr,
               "[ckpt] error: libckpt_pmpi: %s: the error handler could not be called: aborting "
               "the job\n",
               call);
  PMPI_Abort(MPI_COMM_WORLD, MPI_ERR_INTERN);
  std::abort(); // PMPI_Abort does not return; if it does, do not go on
}
} // namespace

int hook_failed(const char *call, MPI_Comm comm) noexcept {
  if (!log_failure(call)) return MPI_ERR_INTERN;
  if (comm == MPI_COMM_NULL) comm = MPI_COMM_WORLD;
  if (PMPI_Comm_call_errhandler(comm, MPI_ERR_INTERN) != MPI_SUCCESS &&
      PMPI_Comm_call_errhandler(MPI_COMM_WORLD, MPI_ERR_INTERN) != MPI_SUCCESS)
    abort_job(call);
  return MPI_ERR_INTERN;
}

int hook_failed(const char *call, MPI_Win win) noexcept {
  if (!log_failure(call)) return MPI_ERR_INTERN;
  if (win == MPI_WIN_NULL || PMPI_Win_call_errhandler(win, MPI_ERR_INTERN) != MPI_SUCCESS)
    if (PMPI_Comm_call_errhandler(MPI_COMM_WORLD, MPI_ERR_INTERN) != MPI_SUCCESS) abort_job(call);
  return MPI_ERR_INTERN;
}

const char *failed_call() noexcept { return g_failed_call; }

void throw_injected_fault(int call) {
  throw std::runtime_error(std::string("fault injected by CKPT_PMPI_INJECT_FAULT into ") +
                           k_wrapper_names[call]);
}

void arm_fault_injection() noexcept {
  const char *name = std::getenv("CKPT_PMPI_INJECT_FAULT");
  if (!name || !*name) return;
  for (int i = 0; i < k_wrapper_count; ++i)
    if (std::strcmp(k_wrapper_names[i], name) == 0) g_injected_fault = i;
  if (g_injected_fault < 0)
    warn(std::string("CKPT_PMPI_INJECT_FAULT=") + name + " names no wrapped call");
}

void complete_pending_receives() {
  layer().requests().for_each([](std::uint32_t, RequestSlot &s) {
    if (s.state != SlotState::active) return;
    if (s.kind != RequestKind::receive && s.kind != RequestKind::persistent_receive) return;
    MPI_Request real = real_request(s.real);
    int flag = 0;
    MPI_Status st;
    check_mpi(PMPI_Test(&real, &flag, &st), "MPI_Test (pending application receive)");
    if (!flag) return;
    s.real = opaque(real);
    Layer::account(s, &st);
    s.result = envelope_of(st);
    s.state = SlotState::completed;
  });
}

DrainedMessage receive_probed(MPI_Comm comm, std::uint64_t comm_id, const MPI_Status &st) {
  MPI_Count bytes = 0;
  check_mpi(PMPI_Get_elements_x(&st, MPI_BYTE, &bytes), "MPI_Get_elements_x (drain)");
  if (bytes > INT32_MAX) throw MpiError("a message in flight is larger than 2 GiB");
  DrainedMessage m;
  m.comm_id = comm_id;
  m.source = st.MPI_SOURCE;
  m.tag = st.MPI_TAG;
  m.data.resize(static_cast<std::size_t>(bytes));
  // Any message may be received as MPI_PACKED; it is delivered later by
  // sending it as MPI_PACKED to a receive with the application's type.
  check_mpi(PMPI_Recv(m.data.data(), static_cast<int>(bytes), MPI_PACKED, st.MPI_SOURCE, st.MPI_TAG,
                      comm, MPI_STATUS_IGNORE),
            "MPI_Recv (drain)");
  return m;
}

void exchange_bytes(MPI_Comm comm, const std::vector<std::vector<unsigned char>> &out,
                    std::vector<std::vector<unsigned char>> &in, const char *what) {
  const int size = static_cast<int>(out.size());
  std::vector<int> send_counts(size), recv_counts(size), sdispl(size), rdispl(size);
  std::vector<unsigned char> flat;
  for (int r = 0; r < size; ++r) {
    sdispl[r] = static_cast<int>(flat.size());
    send_counts[r] = static_cast<int>(out[r].size());
    flat.insert(flat.end(), out[r].begin(), out[r].end());
  }
  check_mpi(PMPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, comm),
            what);
  int total = 0;
  for (int r = 0; r < size; ++r) {
    rdispl[r] = total;
    total += recv_counts[r];
  }
  std::vector<unsigned char> all(static_cast<std::size_t>(total));
  check_mpi(PMPI_Alltoallv(flat.data(), send_counts.data(), sdispl.data(), MPI_BYTE, all.data(),
                           recv_counts.data(), rdispl.data(), MPI_BYTE, comm),
            what);
  in.assign(static_cast<std::size_t>(size), {});
  for (int r = 0; r < size; ++r)
    in[r].assign(all.begin() + rdispl[r], all.begin() + rdispl[r] + recv_counts[r]);
}

} // namespace ckpt::detail::pmpi
