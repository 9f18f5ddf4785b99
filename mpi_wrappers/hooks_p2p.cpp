// Point-to-point hooks: count sends when posted and receives when completed,
// hand out virtual requests, and serve receives and probes from the drained
// messages first (they are older than anything the implementation holds).
#include "channel.hpp"
#include "epoch_hooks.hpp"
#include "hooks.hpp"
#include "layer_lock.hpp"

#include <algorithm>
#include <vector>

namespace ckpt::detail::pmpi::hooks {

namespace {

inline void count_send(MPI_Comm comm, int dest, int tag) {
  if (dest < 0) return; // MPI_PROC_NULL
  if (CommState *s = layer().comm(comm)) {
    s->counts.on_send(dest);
    s->tags.on_send(dest, tag);
  }
}

/// A receive of (buf, datatype) from `source` with `tag` (each maybe a
/// wildcard) completed with status `st`.
inline void count_receive(CommState *s, int source, int tag, const void *buf, MPI_Datatype datatype,
                          const MPI_Status *st) {
  if (source == MPI_ANY_SOURCE) source = st->MPI_SOURCE;
  if (!s || source < 0 || source >= s->counts.peers()) return;
  s->counts.on_receive(source);
  count_tagged_receive(s, source, tag == MPI_ANY_TAG ? st->MPI_TAG : tag, buf, datatype, st);
}

/// A receive consumed its message also when it failed with MPI_ERR_TRUNCATE.
inline bool consumed(int rc) noexcept {
  if (rc == MPI_SUCCESS) return true;
  int cls = 0;
  PMPI_Error_class(rc, &cls);
  return cls == MPI_ERR_TRUNCATE;
}

/// The drained message a receive on `comm` must take, if any.
inline std::optional<std::size_t> drained_match(CommState *s, int source, int tag) {
  if (!s || !layer().has_drained()) return std::nullopt;
  return layer().find_drained(*s, source, tag);
}

int deliver_now(std::size_t pos, void *buf, int count, MPI_Datatype dt, MPI_Comm comm,
                MPI_Status *status, Envelope *env = nullptr) {
  return layer().deliver(layer().drained().take(pos), buf, count, dt, comm, status, env);
}

/// A request born complete (a receive served from the drained store, a send
/// whose receiver already has the message).
MPI_Request completed_request(RequestKind kind, CommState *comm, int peer, int tag) {
  const std::uint32_t index = layer().requests().allocate();
  RequestSlot &slot = layer().requests()[index];
  slot.kind = kind;
  slot.comm = comm;
  slot.peer = peer;
  slot.tag = tag;
  slot.real = opaque(MPI_REQUEST_NULL);
  slot.state = SlotState::completed;
  slot.result = Envelope{};
  return virtual_request(index);
}

template <class Post>
int post_send(Post &&post, const void *buf, int count, MPI_Datatype datatype, MPI_Comm comm,
              int dest, int tag, MPI_Request *request) {
  CommState *s = layer().comm(comm);
  if (send_suppressed(s, dest, tag, buf, count, datatype)) {
    *request = completed_request(RequestKind::send, s, dest, tag);
    return MPI_SUCCESS;
  }
  MPI_Request real = MPI_REQUEST_NULL;
  const int rc = post(&real);
  if (rc != MPI_SUCCESS) return rc;
  if (dest >= 0 && s) {
    s->counts.on_send(dest);
    s->tags.on_send(dest, tag);
  }
  *request = layer().wrap(real, RequestKind::send, s, dest, tag);
  return rc;
}

template <class Init>
int init_persistent(Init &&init, RequestKind kind, RequestCall call, MPI_Comm comm, int peer,
                    int tag, MPI_Request *request, ReceiveArgs args) {
  MPI_Request real = MPI_REQUEST_NULL;
  const int rc = init(&real);
  if (rc != MPI_SUCCESS) return rc;
  *request = layer().wrap(real, kind, layer().comm(comm), peer, tag);
  RequestSlot &slot = layer().requests()[slot_of(*request)];
  slot.args = args;
  slot.call = call;
  return rc;
}

ReceiveArgs args_of(const void *buf, int count, MPI_Datatype datatype) {
  // A persistent send's buffer is only read; it is kept to re-create the
  // request after a restart.
  return ReceiveArgs{const_cast<void *>(buf), count, reinterpret_cast<std::uintptr_t>(datatype)};
}

} // namespace

int send(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm) {
  if (send_suppressed(layer().comm(comm), dest, tag, buf, count, datatype)) return MPI_SUCCESS;
  const int rc = unlocked([&] { return PMPI_Send(buf, count, datatype, dest, tag, comm); });
  if (rc == MPI_SUCCESS) count_send(comm, dest, tag);
  return rc;
}

int ssend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm) {
  if (send_suppressed(layer().comm(comm), dest, tag, buf, count, datatype)) return MPI_SUCCESS;
  const int rc = unlocked([&] { return PMPI_Ssend(buf, count, datatype, dest, tag, comm); });
  if (rc == MPI_SUCCESS) count_send(comm, dest, tag);
  return rc;
}

int bsend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm) {
  if (send_suppressed(layer().comm(comm), dest, tag, buf, count, datatype)) return MPI_SUCCESS;
  const int rc = unlocked([&] { return PMPI_Bsend(buf, count, datatype, dest, tag, comm); });
  if (rc == MPI_SUCCESS) count_send(comm, dest, tag);
  return rc;
}

int rsend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm) {
  if (send_suppressed(layer().comm(comm), dest, tag, buf, count, datatype)) return MPI_SUCCESS;
  const int rc = unlocked([&] { return PMPI_Rsend(buf, count, datatype, dest, tag, comm); });
  if (rc == MPI_SUCCESS) count_send(comm, dest, tag);
  return rc;
}

int isend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
          MPI_Request *request) {
  return post_send(
      [&](MPI_Request *r) { return PMPI_Isend(buf, count, datatype, dest, tag, comm, r); }, buf,
      count, datatype, comm, dest, tag, request);
}

int issend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
           MPI_Request *request) {
  return post_send(
      [&](MPI_Request *r) { return PMPI_Issend(buf, count, datatype, dest, tag, comm, r); }, buf,
      count, datatype, comm, dest, tag, request);
}

int ibsend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
           MPI_Request *request) {
  return post_send(
      [&](MPI_Request *r) { return PMPI_Ibsend(buf, count, datatype, dest, tag, comm, r); }, buf,
      count, datatype, comm, dest, tag, request);
}

int irsend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
           MPI_Request *request) {
  return post_send(
      [&](MPI_Request *r) { return PMPI_Irsend(buf, count, datatype, dest, tag, comm, r); }, buf,
      count, datatype, comm, dest, tag, request);
}

int recv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
         MPI_Status *status) {
  if (source == MPI_ANY_SOURCE) note_nondeterministic();
  CommState *s = layer().comm(comm);
  if (auto pos = drained_match(s, source, tag))
    return deliver_now(*pos, buf, count, datatype, comm, status);
  MPI_Status local;
  MPI_Status *st = status == MPI_STATUS_IGNORE ? &local : status;
  const int rc = unlocked([&] { return PMPI_Recv(buf, count, datatype, source, tag, comm, st); });
  if (consumed(rc) && source != MPI_PROC_NULL) count_receive(s, source, tag, buf, datatype, st);
  return rc;
}

int irecv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
          MPI_Request *request) {
  if (source == MPI_ANY_SOURCE) note_nondeterministic();
  CommState *s = layer().comm(comm);
  if (auto pos = drained_match(s, source, tag)) {
    // Served at once from a drained message: the request is born complete.
    const std::uint32_t index = layer().requests().allocate();
    RequestSlot &slot = layer().requests()[index];
    slot.kind = RequestKind::receive;
    slot.comm = s;
    slot.peer = source;
    slot.tag = tag;
    slot.real = opaque(MPI_REQUEST_NULL);
    slot.state = SlotState::completed;
    const int rc = deliver_now(*pos, buf, count, datatype, comm, MPI_STATUS_IGNORE, &slot.result);
    slot.result.error = rc;
    *request = virtual_request(index);
    return MPI_SUCCESS;
  }
  MPI_Request real = MPI_REQUEST_NULL;
  const int rc = PMPI_Irecv(buf, count, datatype, source, tag, comm, &real);
  if (rc != MPI_SUCCESS) return rc;
  *request = layer().wrap(real, RequestKind::receive, s, source, tag);
  // Kept so that a checkpoint can record the receive if it is still pending.
  layer().requests()[slot_of(*request)].args =
      ReceiveArgs{buf, count, reinterpret_cast<std::uintptr_t>(datatype)};
  return rc;
}

int sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest, int sendtag,
             void *recvbuf, int recvcount, MPI_Datatype recvtype, int source, int recvtag,
             MPI_Comm comm, MPI_Status *status) {
  CommState *s = layer().comm(comm);
  if (send_suppressed(s, dest, sendtag, sendbuf, sendcount, sendtype))
    return recv(recvbuf, recvcount, recvtype, source, recvtag, comm, status);
  if (source == MPI_ANY_SOURCE) note_nondeterministic();
  if (auto pos = drained_match(s, source, recvtag)) {
    MPI_Request sreq = MPI_REQUEST_NULL;
    int rc = PMPI_Isend(sendbuf, sendcount, sendtype, dest, sendtag, comm, &sreq);
    if (rc != MPI_SUCCESS) return rc;
    const int rrc = deliver_now(*pos, recvbuf, recvcount, recvtype, comm, status);
    rc = unlocked([&] { return PMPI_Wait(&sreq, MPI_STATUS_IGNORE); });
    if (rc == MPI_SUCCESS) count_send(comm, dest, sendtag);
    return rrc != MPI_SUCCESS ? rrc : rc;
  }
  MPI_Status local;
  MPI_Status *st = status == MPI_STATUS_IGNORE ? &local : status;
  const int rc = unlocked([&] {
    return PMPI_Sendrecv(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype,
                         source, recvtag, comm, st);
  });
  if (consumed(rc)) {
    count_send(comm, dest, sendtag);
    if (source != MPI_PROC_NULL) count_receive(s, source, recvtag, recvbuf, recvtype, st);
  }
  return rc;
}

int sendrecv_replace(void *buf, int count, MPI_Datatype datatype, int dest, int sendtag, int source,
                     int recvtag, MPI_Comm comm, MPI_Status *status) {
  CommState *s = layer().comm(comm);
  if (send_suppressed(s, dest, sendtag, buf, count, datatype))
    return recv(buf, count, datatype, source, recvtag, comm, status);
  if (source == MPI_ANY_SOURCE) note_nondeterministic();
  if (auto pos = drained_match(s, source, recvtag)) {
    // Send a packed copy, then overwrite the buffer with the drained message.
    int size = 0, position = 0;
    int rc = PMPI_Pack_size(count, datatype, comm, &size);
    if (rc != MPI_SUCCESS) return rc;
    std::vector<unsigned char> copy(static_cast<std::size_t>(size));
    rc = PMPI_Pack(buf, count, datatype, copy.data(), size, &position, comm);
    if (rc != MPI_SUCCESS) return rc;
    MPI_Request sreq = MPI_REQUEST_NULL;
    rc = PMPI_Isend(copy.data(), position, MPI_PACKED, dest, sendtag, comm, &sreq);
    if (rc != MPI_SUCCESS) return rc;
    const int rrc = deliver_now(*pos, buf, count, datatype, comm, status);
    rc = unlocked([&] { return PMPI_Wait(&sreq, MPI_STATUS_IGNORE); });
    if (rc == MPI_SUCCESS) count_send(comm, dest, sendtag);
    return rrc != MPI_SUCCESS ? rrc : rc;
  }
  MPI_Status local;
  MPI_Status *st = status == MPI_STATUS_IGNORE ? &local : status;
  const int rc = unlocked([&] {
    return PMPI_Sendrecv_replace(buf, count, datatype, dest, sendtag, source, recvtag, comm, st);
  });
  if (consumed(rc)) {
    count_send(comm, dest, sendtag);
    if (source != MPI_PROC_NULL) count_receive(s, source, recvtag, buf, datatype, st);
  }
  return rc;
}

int probe(int source, int tag, MPI_Comm comm, MPI_Status *status) {
  if (source == MPI_ANY_SOURCE) note_nondeterministic();
  if (auto pos = drained_match(layer().comm(comm), source, tag)) {
    if (status != MPI_STATUS_IGNORE) {
      const DrainedMessage &m = layer().drained().at(*pos);
      store_envelope(status, {m.source, m.tag, m.data.size(), false, 0});
    }
    return MPI_SUCCESS;
  }
  return unlocked([&] { return PMPI_Probe(source, tag, comm, status); });
}

int iprobe(int source, int tag, MPI_Comm comm, int *flag, MPI_Status *status) {
  note_nondeterministic();
  if (auto pos = drained_match(layer().comm(comm), source, tag)) {
    *flag = 1;
    if (status != MPI_STATUS_IGNORE) {
      const DrainedMessage &m = layer().drained().at(*pos);
      store_envelope(status, {m.source, m.tag, m.data.size(), false, 0});
    }
    return MPI_SUCCESS;
  }
  return PMPI_Iprobe(source, tag, comm, flag, status);
}

namespace {

int matched_probe_from_drained(std::size_t pos, MPI_Message *message, MPI_Status *status) {
  const DrainedMessage &m = layer().drained().at(pos);
  if (status != MPI_STATUS_IGNORE)
    store_envelope(status, {m.source, m.tag, m.data.size(), false, 0});
  *message = virtual_message(layer().drained().reserve(pos));
  return MPI_SUCCESS;
}

/// A real message matched by a probe: counted (it left the channel) and
/// handed to the application as a virtual MPI_Message, so that a checkpoint
/// can receive it into the drained store under the same handle.
void matched_real(CommState *s, MPI_Message *message, const MPI_Status *st) {
  if (*message == MPI_MESSAGE_NO_PROC || *message == MPI_MESSAGE_NULL) return;
  if (s && st->MPI_SOURCE >= 0 && st->MPI_SOURCE < s->counts.peers()) {
    s->counts.on_receive(st->MPI_SOURCE);
    count_probed_receive(s, st->MPI_SOURCE, st->MPI_TAG);
  }
  MPI_Count bytes = 0;
  PMPI_Get_elements_x(st, MPI_BYTE, &bytes);
  const std::uint64_t ticket = layer().drained().new_ticket();
  layer().matched()[ticket] = {*message, s, st->MPI_SOURCE, st->MPI_TAG,
                               static_cast<std::uint64_t>(std::max<MPI_Count>(bytes, 0))};
  *message = virtual_message(ticket);
}

/// The implementation's message behind a virtual one, if it is still there.
std::optional<MPI_Message> take_matched(MPI_Message *message) {
  auto &matched = layer().matched();
  const auto it = matched.find(ticket_of(*message));
  if (it == matched.end()) return std::nullopt;
  const MPI_Message real = it->second.real;
  matched.erase(it);
  *message = MPI_MESSAGE_NULL;
  return real;
}

} // namespace

int mprobe(int source, int tag, MPI_Comm comm, MPI_Message *message, MPI_Status *status) {
  if (source == MPI_ANY_SOURCE) note_nondeterministic();
  CommState *s = layer().comm(comm);
  if (auto pos = drained_match(s, source, tag))
    return matched_probe_from_drained(*pos, message, status);
  MPI_Status local;
  MPI_Status *st = status == MPI_STATUS_IGNORE ? &local : status;
  const int rc = unlocked([&] { return PMPI_Mprobe(source, tag, comm, message, st); });
  if (rc == MPI_SUCCESS) matched_real(s, message, st);
  return rc;
}

int improbe(int source, int tag, MPI_Comm comm, int *flag, MPI_Message *message,
            MPI_Status *status) {
  note_nondeterministic();
  CommState *s = layer().comm(comm);
  if (auto pos = drained_match(s, source, tag)) {
    *flag = 1;
    return matched_probe_from_drained(*pos, message, status);
  }
  MPI_Status local;
  MPI_Status *st = status == MPI_STATUS_IGNORE ? &local : status;
  const int rc = PMPI_Improbe(source, tag, comm, flag, message, st);
  if (rc == MPI_SUCCESS && *flag) matched_real(s, message, st);
  return rc;
}

namespace {
/// The communicator a matched message came from is not known for virtual
/// messages; errors are reported on MPI_COMM_WORLD's handler.
std::optional<DrainedMessage> take_virtual(MPI_Message *message) {
  auto m = layer().drained().take_reserved(ticket_of(*message));
  *message = MPI_MESSAGE_NULL;
  return m;
}
} // namespace

int mrecv(void *buf, int count, MPI_Datatype type, MPI_Message *message, MPI_Status *status) {
  if (is_virtual_message(*message)) {
    if (auto real = take_matched(message))
      return unlocked([&] { return PMPI_Mrecv(buf, count, type, &*real, status); });
    auto m = take_virtual(message);
    if (!m) return MPI_ERR_REQUEST;
    return layer().deliver(std::move(*m), buf, count, type, MPI_COMM_WORLD, status, nullptr);
  }
  return unlocked([&] { return PMPI_Mrecv(buf, count, type, message, status); });
}

int imrecv(void *buf, int count, MPI_Datatype type, MPI_Message *message, MPI_Request *request) {
  if (is_virtual_message(*message)) {
    if (auto real = take_matched(message)) {
      MPI_Request r = MPI_REQUEST_NULL;
      const int rc = PMPI_Imrecv(buf, count, type, &*real, &r);
      if (rc != MPI_SUCCESS) return rc;
      *request = layer().wrap(r, RequestKind::matched_receive, nullptr, MPI_PROC_NULL, 0);
      return rc;
    }
    auto m = take_virtual(message);
    if (!m) return MPI_ERR_REQUEST;
    const std::uint32_t index = layer().requests().allocate();
    RequestSlot &slot = layer().requests()[index];
    slot.kind = RequestKind::matched_receive;
    slot.real = opaque(MPI_REQUEST_NULL);
    slot.state = SlotState::completed;
    slot.result.error = layer().deliver(std::move(*m), buf, count, type, MPI_COMM_WORLD,
                                        MPI_STATUS_IGNORE, &slot.result);
    *request = virtual_request(index);
    return MPI_SUCCESS;
  }
  MPI_Request real = MPI_REQUEST_NULL;
  const int rc = PMPI_Imrecv(buf, count, type, message, &real);
  if (rc != MPI_SUCCESS) return rc;
  *request = layer().wrap(real, RequestKind::matched_receive, nullptr, MPI_PROC_NULL, 0);
  return rc;
}

int send_init(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
              MPI_Request *request) {
  return init_persistent(
      [&](MPI_Request *r) { return PMPI_Send_init(buf, count, datatype, dest, tag, comm, r); },
      RequestKind::persistent_send, RequestCall::standard, comm, dest, tag, request,
      args_of(buf, count, datatype));
}

int ssend_init(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
               MPI_Request *request) {
  return init_persistent(
      [&](MPI_Request *r) { return PMPI_Ssend_init(buf, count, datatype, dest, tag, comm, r); },
      RequestKind::persistent_send, RequestCall::synchronous, comm, dest, tag, request,
      args_of(buf, count, datatype));
}

int bsend_init(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
               MPI_Request *request) {
  return init_persistent(
      [&](MPI_Request *r) { return PMPI_Bsend_init(buf, count, datatype, dest, tag, comm, r); },
      RequestKind::persistent_send, RequestCall::buffered, comm, dest, tag, request,
      args_of(buf, count, datatype));
}

int rsend_init(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
               MPI_Request *request) {
  return init_persistent(
      [&](MPI_Request *r) { return PMPI_Rsend_init(buf, count, datatype, dest, tag, comm, r); },
      RequestKind::persistent_send, RequestCall::ready, comm, dest, tag, request,
      args_of(buf, count, datatype));
}

int recv_init(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
              MPI_Request *request) {
  return init_persistent(
      [&](MPI_Request *r) { return PMPI_Recv_init(buf, count, datatype, source, tag, comm, r); },
      RequestKind::persistent_receive, RequestCall::standard, comm, source, tag, request,
      args_of(buf, count, datatype));
}

} // namespace ckpt::detail::pmpi::hooks
