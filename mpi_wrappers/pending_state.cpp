#include "pending_state.hpp"

#include "channel.hpp"

#include "error.hpp"
#include "mpi_util.hpp"
#include "runtime.hpp"

#include <algorithm>
#include <climits>
#include <string>

namespace ckpt::detail::pmpi {

namespace {

/// The predefined datatypes a saved request may use. Append only: a code is
/// the 1-based position here and is stored in checkpoints.
std::vector<MPI_Datatype> predefined_types() {
  return {MPI_CHAR,
          MPI_SIGNED_CHAR,
          MPI_UNSIGNED_CHAR,
          MPI_BYTE,
          MPI_SHORT,
          MPI_UNSIGNED_SHORT,
          MPI_INT,
          MPI_UNSIGNED,
          MPI_LONG,
          MPI_UNSIGNED_LONG,
          MPI_LONG_LONG,
          MPI_UNSIGNED_LONG_LONG,
          MPI_FLOAT,
          MPI_DOUBLE,
          MPI_LONG_DOUBLE,
          MPI_INT8_T,
          MPI_INT16_T,
          MPI_INT32_T,
          MPI_INT64_T,
          MPI_UINT8_T,
          MPI_UINT16_T,
          MPI_UINT32_T,
          MPI_UINT64_T,
          MPI_C_BOOL,
          MPI_C_FLOAT_COMPLEX,
          MPI_C_DOUBLE_COMPLEX,
          MPI_PACKED,
          MPI_WCHAR,
          MPI_AINT,
          MPI_OFFSET,
          MPI_COUNT,
          MPI_2INT,
          MPI_FLOAT_INT,
          MPI_DOUBLE_INT,
          MPI_LONG_INT,
          MPI_SHORT_INT,
          MPI_INTEGER,
          MPI_REAL,
          MPI_DOUBLE_PRECISION,
          MPI_COMPLEX,
          MPI_DOUBLE_COMPLEX,
          MPI_LOGICAL,
          MPI_CHARACTER};
}

/// Predefined reduction operations, append only (codes are stored).
std::vector<MPI_Op> predefined_ops() {
  return {MPI_SUM,  MPI_PROD, MPI_MAX, MPI_MIN,  MPI_LAND,   MPI_LOR,
          MPI_LXOR, MPI_BAND, MPI_BOR, MPI_BXOR, MPI_MAXLOC, MPI_MINLOC};
}

const std::vector<MPI_Datatype> &table() {
  static const std::vector<MPI_Datatype> t = predefined_types();
  return t;
}

const char *kind_call(RequestKind kind, RequestCall call) {
  switch (kind) {
  case RequestKind::receive: return "MPI_Irecv";
  case RequestKind::matched_receive: return "MPI_Imrecv";
  case RequestKind::send: return "MPI_Isend";
  case RequestKind::persistent_receive: return "MPI_Recv_init";
  case RequestKind::persistent_send:
    switch (call) {
    case RequestCall::synchronous: return "MPI_Ssend_init";
    case RequestCall::buffered: return "MPI_Bsend_init";
    case RequestCall::ready: return "MPI_Rsend_init";
    default: return "MPI_Send_init";
    }
  case RequestKind::collective:
    return call == RequestCall::barrier     ? "MPI_Ibarrier"
           : call == RequestCall::allreduce ? "MPI_Iallreduce"
                                            : "a nonblocking collective";
  }
  return "a request";
}

bool is_persistent(RequestKind k) {
  return k == RequestKind::persistent_send || k == RequestKind::persistent_receive;
}

std::string comm_label(const CommState *comm, const std::vector<CommDescriptor> &comms) {
  if (!comm) return "an unknown communicator";
  if (!comm->stable)
    return comm->inter ? "an intercommunicator" : "a communicator created by an unwrapped call";
  for (const CommDescriptor &d : comms)
    if (d.id == comm->id) return describe(d, comms);
  return "a freed communicator";
}

/// Bytes a receive of (count, type) may write, from the buffer address on.
std::size_t span_of(int count, MPI_Datatype type) {
  MPI_Aint lb = 0, extent = 0;
  check_mpi(PMPI_Type_get_extent(type, &lb, &extent), "MPI_Type_get_extent");
  return count > 0 ? static_cast<std::size_t>(extent) * static_cast<std::size_t>(count) : 0;
}

} // namespace

std::uint32_t datatype_code(MPI_Datatype type) noexcept {
  const auto &t = table();
  for (std::size_t i = 0; i < t.size(); ++i)
    if (t[i] == type && type != MPI_DATATYPE_NULL) return static_cast<std::uint32_t>(i + 1);
  return 0;
}

MPI_Datatype datatype_of(std::uint32_t code) noexcept {
  const auto &t = table();
  return code >= 1 && code <= t.size() ? t[code - 1] : MPI_DATATYPE_NULL;
}

std::uint32_t op_code(MPI_Op op) noexcept {
  static const std::vector<MPI_Op> ops = predefined_ops();
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (ops[i] == op && op != MPI_OP_NULL) return static_cast<std::uint32_t>(i + 1);
  return 0;
}

MPI_Op op_of(std::uint32_t code) noexcept {
  static const std::vector<MPI_Op> ops = predefined_ops();
  return code >= 1 && code <= ops.size() ? ops[code - 1] : MPI_OP_NULL;
}

std::string describe_request(RequestKind kind, RequestCall call, const CommState *comm, int peer,
                             int tag, const std::vector<CommDescriptor> &comms) {
  std::string out = std::string(kind_call(kind, call)) + " on " + comm_label(comm, comms);
  if (kind == RequestKind::collective) return out;
  const bool receive = kind == RequestKind::receive || kind == RequestKind::persistent_receive;
  out += receive ? " (source " : " (destination ";
  out += peer == MPI_ANY_SOURCE ? "MPI_ANY_SOURCE" : std::to_string(peer);
  out += ", tag " + (tag == MPI_ANY_TAG ? std::string("MPI_ANY_TAG") : std::to_string(tag)) + ")";
  return out;
}

BufferRef RuntimeRegions::locate(const void *data, std::size_t bytes) {
  BufferRef ref;
  if (const auto where = m_runtime.locate(data, bytes)) {
    ref.region = where->first;
    ref.offset = where->second;
  }
  return ref;
}

void *RuntimeRegions::address(const BufferRef &ref, std::size_t bytes) {
  return m_runtime.region_address(ref.region, static_cast<std::size_t>(ref.offset), bytes);
}

PendingCapture capture_pending(RegionMap &regions, const std::vector<CommDescriptor> &comms) {
  PendingCapture out;
  const auto refuse = [&](const std::string &why) {
    if (out.problem.empty()) out.problem = why;
  };
  layer().requests().for_each([&](std::uint32_t index, RequestSlot &s) {
    const bool persistent = is_persistent(s.kind);
    const bool active_receive = s.kind == RequestKind::receive && s.state == SlotState::active;
    const bool active_collective =
        s.kind == RequestKind::collective && s.state == SlotState::active;
    if (!persistent && !active_receive && !active_collective) return;
    // Described only when refused: a checkpoint may hold many requests.
    const auto what = [&] {
      return describe_request(s.kind, s.call, s.comm, s.peer, s.tag, comms);
    };
    if (!s.comm || !s.comm->stable) {
      refuse(what() + " cannot be identified after a restart");
      return;
    }
    PendingRequest p;
    p.index = index;
    p.kind = s.kind;
    p.state = s.state;
    p.comm_id = s.comm->id;
    p.peer = s.peer;
    p.tag = s.tag;
    p.call = static_cast<std::uint8_t>(s.call);
    p.order = s.order;
    p.result = s.result;
    if (active_collective && s.call == RequestCall::barrier) {
      out.requests.push_back(p);
      return;
    }
    if (active_collective && s.call != RequestCall::allreduce) {
      refuse(what() + " is pending and not every member entered it: only MPI_Ibarrier and "
                      "MPI_Iallreduce can be carried across a checkpoint; complete the "
                      "collective first");
      return;
    }
    const auto type = reinterpret_cast<MPI_Datatype>(s.args.datatype);
    p.count = s.args.count;
    p.datatype = datatype_code(type);
    // Only a pending receive needs its buffer now; a persistent request needs
    // it to be created again unless the application does that itself.
    const bool needs_buffer = s.state != SlotState::inactive;
    if (p.datatype == 0) {
      if (needs_buffer)
        refuse(what() + " uses a derived datatype: only predefined datatypes can be carried across "
                        "a checkpoint in a pending request");
      else
        return; // inactive with a derived type: the application re-creates it
    }
    p.buffer = regions.locate(s.args.buf, span_of(p.count, type));
    if (active_collective) {
      p.op = op_code(reinterpret_cast<MPI_Op>(s.op));
      if (p.op == 0) {
        refuse(what() + " uses a user-defined operation: only predefined operations can be "
                        "carried across a checkpoint");
        return;
      }
      p.send_buffer = s.send_buf == MPI_IN_PLACE
                          ? BufferRef{BufferRef::in_place, 0}
                          : regions.locate(s.send_buf, span_of(p.count, type));
      if (p.send_buffer.region == BufferRef::none) p.buffer.region = BufferRef::none;
    }
    if (p.buffer.region == BufferRef::none && needs_buffer) {
      refuse(what() + " has its buffer outside every protected region: protect the buffer "
                      "(ckpt_protect) so that a restarted process can post the request again");
      return;
    }
    out.requests.push_back(p);
  });
  return out;
}

std::string receive_matched_messages(const std::vector<CommDescriptor> &comms) {
  auto &matched = layer().matched();
  for (auto it = matched.begin(); it != matched.end();) {
    const Layer::MatchedMessage &m = it->second;
    if (!m.comm || !m.comm->stable)
      return "a message matched by MPI_Mprobe/MPI_Improbe on " + comm_label(m.comm, comms) +
             " (source " + std::to_string(m.source) + ", tag " + std::to_string(m.tag) +
             ") has not been received and its communicator cannot be identified after a restart";
    if (m.bytes > INT32_MAX) throw MpiError("a matched message is larger than 2 GiB");
    DrainedMessage d;
    d.comm_id = m.comm->id;
    d.source = m.source;
    d.tag = m.tag;
    d.data.resize(static_cast<std::size_t>(m.bytes));
    MPI_Message real = m.real;
    check_mpi(
        PMPI_Mrecv(d.data.data(), static_cast<int>(m.bytes), MPI_PACKED, &real, MPI_STATUS_IGNORE),
        "MPI_Mrecv (matched message at checkpoint)");
    layer().drained().push_reserved(std::move(d), it->first);
    it = matched.erase(it);
  }
  layer().drained_changed();
  return {};
}

namespace {

int post_persistent(const PendingRequest &p, void *buf, MPI_Datatype type, MPI_Comm comm,
                    MPI_Request *real) {
  if (p.kind == RequestKind::persistent_receive)
    return PMPI_Recv_init(buf, p.count, type, p.peer, p.tag, comm, real);
  switch (static_cast<RequestCall>(p.call)) {
  case RequestCall::synchronous:
    return PMPI_Ssend_init(buf, p.count, type, p.peer, p.tag, comm, real);
  case RequestCall::buffered: return PMPI_Bsend_init(buf, p.count, type, p.peer, p.tag, comm, real);
  case RequestCall::ready: return PMPI_Rsend_init(buf, p.count, type, p.peer, p.tag, comm, real);
  default: return PMPI_Send_init(buf, p.count, type, p.peer, p.tag, comm, real);
  }
}

/// A persistent request the application created again before ckpt_restart()
/// at the saved handle: the same request if everything but the state agrees.
bool same_request(const RequestSlot &s, const PendingRequest &p, const void *buf,
                  MPI_Datatype type) {
  return s.kind == p.kind && s.comm && s.comm->id == p.comm_id && s.peer == p.peer &&
         s.tag == p.tag && s.args.count == p.count &&
         reinterpret_cast<MPI_Datatype>(s.args.datatype) == type && (!buf || s.args.buf == buf);
}

} // namespace

void restore_pending(RegionMap &regions, std::vector<PendingRequest> pending) {
  std::sort(pending.begin(), pending.end(),
            [](const PendingRequest &a, const PendingRequest &b) { return a.order < b.order; });
  for (const PendingRequest &p : pending) {
    auto [comm, state] = layer().find_comm(p.comm_id);
    // Described only for an error: a restart may re-post many requests.
    const auto what = [&, state = state] {
      return describe_request(p.kind, static_cast<RequestCall>(p.call), state, p.peer, p.tag,
                              layer().describe_comms());
    };
    if (!state) throw StateError(what() + ": its communicator does not exist");
    RequestTable &table = layer().requests();
    if (p.kind == RequestKind::collective) {
      if (!table.claim(p.index))
        throw StateError(what() + ": a request created before ckpt_restart() holds its handle");
      MPI_Request real = MPI_REQUEST_NULL;
      const auto call = static_cast<RequestCall>(p.call);
      ReceiveArgs args;
      const void *send = nullptr;
      if (call == RequestCall::allreduce) {
        const MPI_Datatype type = datatype_of(p.datatype);
        const MPI_Op op = op_of(p.op);
        if (type == MPI_DATATYPE_NULL || op == MPI_OP_NULL)
          throw StateError(what() + ": unknown datatype or operation code");
        const std::size_t span = span_of(p.count, type);
        void *recv = regions.address(p.buffer, span);
        send = p.send_buffer.region == BufferRef::in_place ? MPI_IN_PLACE
                                                           : regions.address(p.send_buffer, span);
        if (!recv || !send)
          throw StateError(what() +
                           ": its buffers were in protected regions that are not "
                           "protected (or smaller) now: protect them before ckpt_restart()");
        check_mpi(PMPI_Iallreduce(send, recv, p.count, type, op, comm, &real),
                  "MPI_Iallreduce (re-posted after restart)");
        args = ReceiveArgs{recv, p.count, reinterpret_cast<std::uintptr_t>(type)};
      } else {
        check_mpi(PMPI_Ibarrier(comm, &real), "MPI_Ibarrier (re-posted after restart)");
      }
      RequestSlot &s = table[p.index];
      s = RequestSlot{};
      s.state = SlotState::active;
      s.kind = p.kind;
      s.call = call;
      s.args = args;
      s.send_buf = send;
      s.op = reinterpret_cast<std::uintptr_t>(op_of(p.op));
      s.comm = state;
      s.peer = MPI_PROC_NULL;
      s.real = opaque(real);
      s.order = layer().next_order();
      s.collective_seq = state->collective_seq++;
      ++state->collectives;
      continue;
    }
    const MPI_Datatype type = datatype_of(p.datatype);
    if (type == MPI_DATATYPE_NULL) throw StateError(what() + ": unknown datatype code");
    const std::size_t span = span_of(p.count, type);
    void *buf = nullptr;
    if (p.buffer.region != BufferRef::none) {
      buf = regions.address(p.buffer, span);
      if (!buf)
        throw StateError(what() + ": its buffer was in protected region " +
                         std::to_string(p.buffer.region) +
                         ", which is not protected (or smaller) now: protect it before "
                         "ckpt_restart()");
    }
    if (table.contains(p.index)) {
      // Persistent requests: the application's setup may have created it again.
      if (!is_persistent(p.kind) || !same_request(table[p.index], p, buf, type))
        throw StateError(what() + ": a different request created before ckpt_restart() holds its "
                                  "handle; post requests only after ckpt_restart()");
    } else {
      if (!buf) continue; // inactive, unprotected buffer: the application creates it again
      if (!table.claim(p.index)) throw StateError(what() + ": cannot reclaim its handle");
      // A nonblocking checkpoint may hold the late message this receive
      // matched after the local checkpoint: it comes from the store first,
      // like any receive (the store is older than anything MPI holds).
      if (p.kind == RequestKind::receive && layer().has_drained())
        if (auto pos = layer().find_drained(*state, p.peer, p.tag)) {
          RequestSlot &s = table[p.index];
          s = RequestSlot{};
          s.state = SlotState::completed;
          s.kind = p.kind;
          s.call = static_cast<RequestCall>(p.call);
          s.comm = state;
          s.peer = p.peer;
          s.tag = p.tag;
          s.real = opaque(MPI_REQUEST_NULL);
          s.order = layer().next_order();
          s.result.error = layer().deliver(layer().drained().take(*pos), buf, p.count, type, comm,
                                           MPI_STATUS_IGNORE, &s.result);
          continue;
        }
      MPI_Request real = MPI_REQUEST_NULL;
      const int rc = p.kind == RequestKind::receive
                         ? PMPI_Irecv(buf, p.count, type, p.peer, p.tag, comm, &real)
                         : post_persistent(p, buf, type, comm, &real);
      check_mpi(rc, "re-posting a request after restart");
      RequestSlot &s = table[p.index];
      s = RequestSlot{};
      s.state = p.kind == RequestKind::receive ? SlotState::active : SlotState::inactive;
      s.kind = p.kind;
      s.call = static_cast<RequestCall>(p.call);
      s.comm = state;
      s.peer = p.peer;
      s.tag = p.tag;
      s.args = ReceiveArgs{buf, p.count, reinterpret_cast<std::uintptr_t>(type)};
      s.real = opaque(real);
      s.order = layer().next_order();
      if (p.kind == RequestKind::receive) continue;
    }
    RequestSlot &s = table[p.index];
    if (p.state == SlotState::completed) {
      s.state = SlotState::completed;
      s.result = p.result;
    } else if (p.state == SlotState::active) {
      MPI_Request real = real_request(s.real);
      check_mpi(PMPI_Start(&real), "MPI_Start (re-posted after restart)");
      s.real = opaque(real);
      s.state = SlotState::active;
      s.order = layer().next_order();
    }
  }
}

} // namespace ckpt::detail::pmpi
