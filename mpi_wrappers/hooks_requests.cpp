// Completion hooks: translate virtual requests to the implementation's,
// account completed receives, and report requests the layer completed itself
// (during a checkpoint, from drained messages, or restored from a snapshot).
#include "channel.hpp"
#include "epoch_hooks.hpp"
#include "hooks.hpp"
#include "layer_lock.hpp"

#include <vector>

namespace ckpt::detail::pmpi::hooks {

namespace {

/// Reused per-thread scratch arrays: no allocation once they are big enough.
struct Scratch {
  std::vector<MPI_Request> requests;
  std::vector<MPI_Status> statuses;
  std::vector<char> done;
  MPI_Request *reqs(int n) {
    if (requests.size() < static_cast<std::size_t>(n)) requests.resize(n);
    return requests.data();
  }
  MPI_Status *stats(int n) {
    if (statuses.size() < static_cast<std::size_t>(n)) statuses.resize(n);
    return statuses.data();
  }
};
thread_local Scratch t_scratch;

inline RequestSlot &slot(MPI_Request r) noexcept { return layer().requests()[slot_of(r)]; }

inline bool needs_status(const RequestSlot &s) noexcept {
  // Receives: the tag and count name the message for the nonblocking protocol.
  return s.cancel_requested || s.kind == RequestKind::receive ||
         s.kind == RequestKind::persistent_receive;
}

bool any_virtual(int n, MPI_Request reqs[]) noexcept {
  if (layer().has_stale_null())
    for (int i = 0; i < n; ++i)
      layer().fix_stale_null(&reqs[i]);
  for (int i = 0; i < n; ++i)
    if (is_virtual_request(reqs[i])) return true;
  return false;
}

/// A request handle that is not one of the layer's: pass it on, mapping a
/// null handle restored from a checkpoint to this process's null.
inline bool passthrough(MPI_Request *request) noexcept {
  if (is_virtual_request(*request)) return false;
  layer().fix_stale_null(request);
  return true;
}

/// Reports a request the layer completed, then retires it.
int report_completed(MPI_Request *request, MPI_Status *status) noexcept {
  RequestSlot &s = slot(*request);
  const int err = s.result.error;
  if (status != MPI_STATUS_IGNORE) store_envelope(status, s.result);
  layer().finish(request);
  return err;
}

/// The implementation's handles for an array of (possibly virtual) requests.
/// Requests the layer already completed become MPI_REQUEST_NULL.
MPI_Request *translate(int n, const MPI_Request reqs[]) {
  MPI_Request *real = t_scratch.reqs(n);
  for (int i = 0; i < n; ++i) {
    if (!is_virtual_request(reqs[i])) {
      real[i] = reqs[i];
      continue;
    }
    const RequestSlot &s = slot(reqs[i]);
    real[i] = s.state == SlotState::completed ? MPI_REQUEST_NULL : real_request(s.real);
  }
  return real;
}

/// Request i of an array completed in the implementation with status st.
void completed_in_mpi(MPI_Request *request, MPI_Request real, const MPI_Status *st) noexcept {
  if (!is_virtual_request(*request)) {
    *request = real;
    return;
  }
  RequestSlot &s = slot(*request);
  if (s.state != SlotState::active) return; // inactive persistent: nothing happened
  s.real = opaque(real);
  Layer::account(s, st);
  layer().finish(request);
}

/// After a multiple-completion call that did not complete request i: keep
/// the implementation's (possibly updated) handle.
void not_completed(MPI_Request *request, MPI_Request real) noexcept {
  if (!is_virtual_request(*request))
    *request = real;
  else if (slot(*request).state == SlotState::active)
    slot(*request).real = opaque(real);
}

/// Index of a request the layer completed, or -1.
int first_layer_completed(int n, const MPI_Request reqs[]) noexcept {
  for (int i = 0; i < n; ++i)
    if (is_virtual_request(reqs[i]) && slot(reqs[i]).state == SlotState::completed) return i;
  return -1;
}

} // namespace

int wait(MPI_Request *request, MPI_Status *status) {
  if (passthrough(request)) return unlocked([&] { return PMPI_Wait(request, status); });
  RequestSlot &s = slot(*request);
  if (s.state == SlotState::completed) return report_completed(request, status);
  MPI_Request real = real_request(s.real);
  if (s.state == SlotState::inactive) return unlocked([&] { return PMPI_Wait(&real, status); });
  MPI_Status local;
  MPI_Status *st = status == MPI_STATUS_IGNORE && needs_status(s) ? &local : status;
  const int rc = unlocked([&] { return PMPI_Wait(&real, st); });
  s.real = opaque(real);
  if (rc == MPI_SUCCESS) {
    Layer::account(s, st);
    layer().finish(request);
  }
  return rc;
}

int test(MPI_Request *request, int *flag, MPI_Status *status) {
  note_nondeterministic();
  if (passthrough(request)) return PMPI_Test(request, flag, status);
  RequestSlot &s = slot(*request);
  if (s.state == SlotState::completed) {
    *flag = 1;
    return report_completed(request, status);
  }
  MPI_Request real = real_request(s.real);
  if (s.state == SlotState::inactive) return PMPI_Test(&real, flag, status);
  MPI_Status local;
  MPI_Status *st = status == MPI_STATUS_IGNORE && needs_status(s) ? &local : status;
  const int rc = PMPI_Test(&real, flag, st);
  s.real = opaque(real);
  if (rc == MPI_SUCCESS && *flag) {
    Layer::account(s, st);
    layer().finish(request);
  }
  return rc;
}

int request_get_status(MPI_Request request, int *flag, MPI_Status *status) {
  note_nondeterministic();
  if (!is_virtual_request(request)) {
    layer().fix_stale_null(&request);
    return PMPI_Request_get_status(request, flag, status);
  }
  const RequestSlot &s = slot(request);
  if (s.state == SlotState::completed) {
    *flag = 1;
    if (status != MPI_STATUS_IGNORE) store_envelope(status, s.result);
    return MPI_SUCCESS;
  }
  return PMPI_Request_get_status(real_request(s.real), flag, status);
}

namespace {

/// After PMPI_Waitall/PMPI_Testall returned `rc` with statuses `st` for the
/// translated requests `real`: completes the accounting of every request.
int settle_all(int count, MPI_Request array_of_requests[], MPI_Request *real, MPI_Status *st,
               MPI_Status *array_of_statuses, int rc) {
  for (int i = 0; i < count; ++i) {
    MPI_Request *r = &array_of_requests[i];
    if (is_virtual_request(*r) && slot(*r).state == SlotState::completed) {
      // The implementation saw MPI_REQUEST_NULL here; report our result.
      if (array_of_statuses != MPI_STATUSES_IGNORE) store_envelope(&st[i], slot(*r).result);
      layer().finish(r);
      continue;
    }
    const bool done =
        rc == MPI_SUCCESS || (rc == MPI_ERR_IN_STATUS && st[i].MPI_ERROR != MPI_ERR_PENDING);
    if (done)
      completed_in_mpi(r, real[i], &st[i]);
    else
      not_completed(r, real[i]);
  }
  return rc;
}

} // namespace

int waitall(int count, MPI_Request array_of_requests[], MPI_Status *array_of_statuses) {
  if (!any_virtual(count, array_of_requests))
    return unlocked([&] { return PMPI_Waitall(count, array_of_requests, array_of_statuses); });
  MPI_Request *real = translate(count, array_of_requests);
  MPI_Status *st =
      array_of_statuses == MPI_STATUSES_IGNORE ? t_scratch.stats(count) : array_of_statuses;
  const int rc = unlocked([&] { return PMPI_Waitall(count, real, st); });
  return settle_all(count, array_of_requests, real, st, array_of_statuses, rc);
}

int testall(int count, MPI_Request array_of_requests[], int *flag, MPI_Status array_of_statuses[]) {
  note_nondeterministic();
  if (!any_virtual(count, array_of_requests))
    return PMPI_Testall(count, array_of_requests, flag, array_of_statuses);
  MPI_Request *real = translate(count, array_of_requests);
  MPI_Status *st =
      array_of_statuses == MPI_STATUSES_IGNORE ? t_scratch.stats(count) : array_of_statuses;
  const int rc = PMPI_Testall(count, real, flag, st);
  if (!*flag && rc == MPI_SUCCESS) return rc; // nothing changed
  return settle_all(count, array_of_requests, real, st, array_of_statuses, rc);
}

int waitany(int count, MPI_Request array_of_requests[], int *index, MPI_Status *status) {
  note_nondeterministic();
  if (!any_virtual(count, array_of_requests))
    return unlocked([&] { return PMPI_Waitany(count, array_of_requests, index, status); });
  if (const int i = first_layer_completed(count, array_of_requests); i >= 0) {
    *index = i;
    return report_completed(&array_of_requests[i], status);
  }
  MPI_Request *real = translate(count, array_of_requests);
  MPI_Status local;
  MPI_Status *st = status == MPI_STATUS_IGNORE ? &local : status;
  const int rc = unlocked([&] { return PMPI_Waitany(count, real, index, st); });
  if (*index != MPI_UNDEFINED && *index >= 0)
    completed_in_mpi(&array_of_requests[*index], real[*index], st);
  return rc;
}

int testany(int count, MPI_Request array_of_requests[], int *index, int *flag, MPI_Status *status) {
  note_nondeterministic();
  if (!any_virtual(count, array_of_requests))
    return PMPI_Testany(count, array_of_requests, index, flag, status);
  if (const int i = first_layer_completed(count, array_of_requests); i >= 0) {
    *index = i;
    *flag = 1;
    return report_completed(&array_of_requests[i], status);
  }
  MPI_Request *real = translate(count, array_of_requests);
  MPI_Status local;
  MPI_Status *st = status == MPI_STATUS_IGNORE ? &local : status;
  const int rc = PMPI_Testany(count, real, index, flag, st);
  if (*flag && *index != MPI_UNDEFINED && *index >= 0)
    completed_in_mpi(&array_of_requests[*index], real[*index], st);
  return rc;
}

namespace {

using SomeFn = int (*)(int, MPI_Request[], int *, int[], MPI_Status[]);

int some(SomeFn fn, int incount, MPI_Request reqs[], int *outcount, int indices[],
         MPI_Status statuses[]) {
  if (!any_virtual(incount, reqs))
    return unlocked([&] { return fn(incount, reqs, outcount, indices, statuses); });
  // Requests the layer completed are reported first, on their own.
  int n = 0;
  int err = MPI_SUCCESS;
  for (int i = 0; i < incount; ++i) {
    if (!is_virtual_request(reqs[i]) || slot(reqs[i]).state != SlotState::completed) continue;
    indices[n] = i;
    const int e = report_completed(&reqs[i], statuses == MPI_STATUSES_IGNORE ? MPI_STATUS_IGNORE
                                                                             : &statuses[n]);
    if (e != MPI_SUCCESS) err = e;
    ++n;
  }
  if (n > 0) {
    *outcount = n;
    return err;
  }
  MPI_Request *real = translate(incount, reqs);
  MPI_Status *st = statuses == MPI_STATUSES_IGNORE ? t_scratch.stats(incount) : statuses;
  const int rc = unlocked([&] { return fn(incount, real, outcount, indices, st); });
  if (*outcount == MPI_UNDEFINED) return rc;
  std::vector<char> &done = t_scratch.done;
  done.assign(static_cast<std::size_t>(incount), 0);
  for (int j = 0; j < *outcount; ++j) {
    const int i = indices[j];
    done[i] = 1;
    completed_in_mpi(&reqs[i], real[i], &st[j]);
  }
  for (int i = 0; i < incount; ++i)
    if (!done[i]) not_completed(&reqs[i], real[i]);
  return rc;
}

} // namespace

int waitsome(int incount, MPI_Request array_of_requests[], int *outcount, int array_of_indices[],
             MPI_Status array_of_statuses[]) {
  note_nondeterministic();
  return some(PMPI_Waitsome, incount, array_of_requests, outcount, array_of_indices,
              array_of_statuses);
}

int testsome(int incount, MPI_Request array_of_requests[], int *outcount, int array_of_indices[],
             MPI_Status array_of_statuses[]) {
  note_nondeterministic();
  return some(PMPI_Testsome, incount, array_of_requests, outcount, array_of_indices,
              array_of_statuses);
}

int cancel(MPI_Request *request) {
  if (passthrough(request)) return PMPI_Cancel(request);
  RequestSlot &s = slot(*request);
  if (s.state != SlotState::active) return MPI_SUCCESS; // already complete: no effect
  s.cancel_requested = true;
  MPI_Request real = real_request(s.real);
  return PMPI_Cancel(&real);
}

int request_free(MPI_Request *request) {
  if (passthrough(request)) return PMPI_Request_free(request);
  const std::uint32_t index = slot_of(*request);
  RequestSlot &s = layer().requests()[index];
  int rc = MPI_SUCCESS;
  MPI_Request real = real_request(s.real);
  if (s.state == SlotState::active &&
      (s.kind == RequestKind::receive || s.kind == RequestKind::persistent_receive))
    ++layer().freed_active_receives();
  if (real != MPI_REQUEST_NULL) rc = PMPI_Request_free(&real);
  if (rc != MPI_SUCCESS) return rc;
  layer().requests().release(index);
  *request = MPI_REQUEST_NULL;
  return rc;
}

int start(MPI_Request *request) {
  if (passthrough(request)) return PMPI_Start(request);
  RequestSlot &s = slot(*request);
  if (s.kind == RequestKind::persistent_receive && s.state == SlotState::inactive && s.comm &&
      layer().has_drained()) {
    if (auto pos = layer().find_drained(*s.comm, s.peer, s.tag)) {
      s.state = SlotState::completed;
      s.result.error =
          layer().deliver(layer().drained().take(*pos), s.args.buf, s.args.count,
                          reinterpret_cast<MPI_Datatype>(s.args.datatype),
                          reinterpret_cast<MPI_Comm>(s.comm->handle), MPI_STATUS_IGNORE, &s.result);
      return MPI_SUCCESS;
    }
  }
  if (s.kind == RequestKind::persistent_send &&
      send_suppressed(s.comm, s.peer, s.tag, s.args.buf, s.args.count,
                      reinterpret_cast<MPI_Datatype>(s.args.datatype))) {
    s.state = SlotState::completed; // the receiver already has it
    s.result = Envelope{};
    return MPI_SUCCESS;
  }
  MPI_Request real = real_request(s.real);
  const int rc = PMPI_Start(&real);
  if (rc != MPI_SUCCESS) return rc;
  s.state = SlotState::active;
  s.order = layer().next_order();
  if (s.kind == RequestKind::persistent_send && s.peer >= 0 && s.comm) {
    s.comm->counts.on_send(s.peer);
    s.comm->tags.on_send(s.peer, s.tag);
  }
  return rc;
}

int startall(int count, MPI_Request array_of_requests[]) {
  if (!any_virtual(count, array_of_requests)) return PMPI_Startall(count, array_of_requests);
  for (int i = 0; i < count; ++i) {
    const int rc = start(&array_of_requests[i]);
    if (rc != MPI_SUCCESS) return rc;
  }
  return MPI_SUCCESS;
}

int ibarrier(MPI_Comm comm, MPI_Request *request) {
  const int rc = PMPI_Ibarrier(comm, request);
  if (rc != MPI_SUCCESS) return rc;
  note_icollective(comm, request);
  // A barrier has no buffers: a checkpoint can carry it when it is pending.
  layer().requests()[slot_of(*request)].call = RequestCall::barrier;
  return rc;
}

int iallreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
               MPI_Comm comm, MPI_Request *request) {
  const int rc = PMPI_Iallreduce(sendbuf, recvbuf, count, datatype, op, comm, request);
  if (rc != MPI_SUCCESS) return rc;
  note_icollective(comm, request);
  // Kept so that a checkpoint can carry it when not every member entered it.
  RequestSlot &s = layer().requests()[slot_of(*request)];
  s.call = RequestCall::allreduce;
  s.args = ReceiveArgs{recvbuf, count, reinterpret_cast<std::uintptr_t>(datatype)};
  s.send_buf = sendbuf;
  s.op = reinterpret_cast<std::uintptr_t>(op);
  return rc;
}

} // namespace ckpt::detail::pmpi::hooks
