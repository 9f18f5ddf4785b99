#include "nonblocking_protocol.hpp"

#include "epoch_participant.hpp"
#include "debug_hooks.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "log.hpp"
#include "nonblocking_commit.hpp"
#include "rank_snapshot.hpp"
#include "runtime.hpp"
#include "runtime_scope.hpp"
#include "signals.hpp"

#include <algorithm>
#include <cstring>
#include <sched.h>

namespace ckpt::detail {

namespace {

// Message tags on the private marker communicator.
constexpr int k_tag_request = 1; // {epoch, version, target site}: a checkpoint is wanted
constexpr int k_tag_marker = 2;  // {epoch, participant's marker}: local checkpoint taken
constexpr int k_tag_done = 3;    // to rank 0: {epoch, ok, step, collectives, problem}
constexpr int k_tag_outcome = 4; // from rank 0: {epoch, version, committed, problem}

class Writer {
public:
  template <class T> Writer &put(T v) {
    const auto *p = reinterpret_cast<const unsigned char *>(&v);
    m_bytes.insert(m_bytes.end(), p, p + sizeof v);
    return *this;
  }
  Writer &put_bytes(const unsigned char *p, std::size_t n) {
    m_bytes.insert(m_bytes.end(), p, p + n);
    return *this;
  }
  Writer &put_text(const std::string &s) {
    return put_bytes(reinterpret_cast<const unsigned char *>(s.data()), s.size());
  }
  std::vector<unsigned char> take() { return std::move(m_bytes); }

private:
  std::vector<unsigned char> m_bytes;
};

class Reader {
public:
  explicit Reader(const std::vector<unsigned char> &b) : m_b(b) {}
  template <class T> T get() {
    T v{};
    if (m_b.size() - m_pos < sizeof v) throw MpiError("truncated checkpoint protocol message");
    std::memcpy(&v, m_b.data() + m_pos, sizeof v);
    m_pos += sizeof v;
    return v;
  }
  [[nodiscard]] const unsigned char *rest() const noexcept { return m_b.data() + m_pos; }
  [[nodiscard]] std::size_t rest_size() const noexcept { return m_b.size() - m_pos; }
  std::string rest_text() const { return {reinterpret_cast<const char *>(rest()), rest_size()}; }

private:
  const std::vector<unsigned char> &m_b;
  std::size_t m_pos = 0;
};

} // namespace

NonblockingProtocol::NonblockingProtocol(Runtime &runtime)
    : m_rt(runtime), m_comm(Comm::duplicate(runtime.comm())), m_rank(runtime.rank()),
      m_size(runtime.size()) {
  const int interval = runtime.config().checkpoint_interval();
  m_trigger.configure(m_rank == 0 ? interval : 0, monotonic_seconds());
}

NonblockingProtocol::~NonblockingProtocol() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  RuntimeScope scope;
  for (PendingSend &s : m_sends)
    if (s.request != MPI_REQUEST_NULL) {
      MPI_Cancel(&s.request);
      MPI_Request_free(&s.request);
    }
}

void NonblockingProtocol::send(int dest, int tag, std::vector<unsigned char> bytes) {
  m_sends.push_back({std::move(bytes), MPI_REQUEST_NULL});
  PendingSend &s = m_sends.back();
  check_mpi(MPI_Isend(s.bytes.data(), static_cast<int>(s.bytes.size()), MPI_BYTE, dest, tag,
                      m_comm.get(), &s.request),
            "MPI_Isend (checkpoint marker)");
}

void NonblockingProtocol::test_sends() {
  for (auto it = m_sends.begin(); it != m_sends.end();) {
    int flag = 0;
    check_mpi(MPI_Test(&it->request, &flag, MPI_STATUS_IGNORE), "MPI_Test (checkpoint marker)");
    it = flag ? m_sends.erase(it) : std::next(it);
  }
}

void NonblockingProtocol::poll_messages() {
  for (;;) {
    int flag = 0;
    MPI_Status st;
    check_mpi(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, m_comm.get(), &flag, &st),
              "MPI_Iprobe (checkpoint markers)");
    if (!flag) return;
    int bytes = 0;
    check_mpi(MPI_Get_count(&st, MPI_BYTE, &bytes), "MPI_Get_count");
    std::vector<unsigned char> buf(static_cast<std::size_t>(bytes));
    check_mpi(MPI_Recv(buf.data(), bytes, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, m_comm.get(),
                       MPI_STATUS_IGNORE),
              "MPI_Recv (checkpoint marker)");
    handle(st.MPI_SOURCE, st.MPI_TAG, buf);
  }
}

std::optional<std::pair<std::uint64_t, NonblockingProtocol::Request>>
NonblockingProtocol::next_request() const {
  auto it = m_requests.upper_bound(m_closed);
  if (it == m_requests.end()) return std::nullopt;
  return *it;
}

void NonblockingProtocol::handle(int from, int tag, std::vector<unsigned char> &bytes) {
  Reader in(bytes);
  const auto epoch = in.get<std::uint64_t>();
  switch (tag) {
  case k_tag_request: {
    Request r;
    r.version = in.get<std::int64_t>();
    r.target_site = in.get<std::uint64_t>();
    r.signal = in.get<std::uint8_t>() != 0;
    if (epoch > m_closed) m_requests.emplace(epoch, r); // the first request of an epoch wins
    break;
  }
  case k_tag_marker:
    if (epoch <= m_closed) break;
    if (epoch == m_taken) {
      if (EpochParticipant *p = epoch_participant()) p->on_marker(from, in.rest(), in.rest_size());
    } else {
      m_early_marks[epoch].emplace_back(
          from, std::vector<unsigned char>(in.rest(), in.rest() + in.rest_size()));
    }
    break;
  case k_tag_done: {
    // Reports of an epoch already decided (a failure is decided at the first
    // failed report) are late: ignored.
    if (m_rank != 0 || epoch <= m_closed || epoch <= m_decided) break;
    Done d;
    d.ok = in.get<std::uint8_t>() != 0;
    const auto version = in.get<std::int64_t>();
    const auto step = in.get<std::int64_t>();
    const auto n = in.get<std::uint64_t>();
    if (n > in.rest_size()) throw MpiError("malformed checkpoint report");
    d.report.assign(in.rest(), in.rest() + n);
    d.problem.assign(reinterpret_cast<const char *>(in.rest()) + n, in.rest_size() - n);
    m_versions[epoch] = version;
    if (from == 0) m_steps[epoch] = step;
    m_dones[epoch][from] = std::move(d);
    break;
  }
  case k_tag_outcome: {
    const auto version = in.get<std::int64_t>();
    const bool committed = in.get<std::uint8_t>() != 0;
    close(epoch, version, committed, in.rest_text());
    break;
  }
  default: break;
  }
}

bool NonblockingProtocol::progress(std::int64_t step) {
  RuntimeScope scope;
  if (SignalWatch::instance().consume()) {
    m_trigger.request();
    m_signal = true;
  }
  test_sends();
  poll_messages();
  if (m_trigger.requested() && !next_request() && m_taken == 0) initiate();
  bool took = false;
  if (auto next = next_request(); next && m_taken == 0 && next->first == m_closed + 1 &&
                                  m_trigger.sites() >= next->second.target_site) {
    take_local(step, nullptr);
    took = true;
  }
  if (m_taken != 0 && !m_done_sent) finish_record();
  if (m_rank == 0) decide();
  m_active = m_taken != 0 || next_request() || !m_sends.empty() || !m_dones.empty();
  if (!m_failure.empty()) {
    const std::string failure = std::move(m_failure);
    m_failure.clear();
    throw StateError(failure);
  }
  return took;
}

void NonblockingProtocol::initiate() {
  const std::uint64_t epoch = m_closed + 1;
  Request r;
  r.version = m_rt.next_version();
  r.target_site = m_trigger.sites() + m_trigger.lead(monotonic_seconds());
  r.signal = m_signal;
  m_requests.emplace(epoch, r);
  for (int dest = 0; dest < m_size; ++dest)
    if (dest != m_rank)
      send(dest, k_tag_request,
           Writer()
               .put(epoch)
               .put(r.version)
               .put(r.target_site)
               .put(static_cast<std::uint8_t>(r.signal))
               .take());
  log_debug("nonblocking checkpoint (epoch " + std::to_string(epoch) + ", version " +
            std::to_string(r.version) + ") requested by rank " + std::to_string(m_rank));
}

void NonblockingProtocol::take_local(std::int64_t step, const char *refusal) {
  const auto [epoch, request] = *next_request();
  m_rt.advance_version(request.version);
  m_taken = epoch;
  m_taken_version = request.version;
  m_done_sent = false;
  m_trigger.clear_request();
  if (request.signal || m_signal) m_rt.note_signal_request();
  m_signal = false;
  std::string problem = refusal ? refusal : "";
  std::vector<std::vector<unsigned char>> marks;
  EpochParticipant *p = epoch_participant();
  if (problem.empty()) {
    try {
      if (!p)
        throw StateError("protocol = nonblocking needs the PMPI layer (link ckpt::pmpi or "
                         "LD_PRELOAD libckpt_pmpi.so) to account for the messages in flight");
      marks = p->open_epoch(m_rt, epoch, m_rt.config().message_log_bytes());
      RankSnapshot snap;
      snap.version = request.version;
      snap.step = step;
      snap.rank = m_rank;
      for (const auto &[id, r] : m_rt.protected_regions()) {
        if (r.is_global())
          throw StateError("region '" + r.name + "' (id " + std::to_string(id) +
                           ") is a piece of a global array (ckpt_protect_global): protocol = "
                           "nonblocking does not write global regions yet; use protocol = "
                           "blocking for this application");
        if (id >= 0)
          snap.regions.push_back({id, static_cast<int>(r.type), r.elem_size, r.count, r.name,
                                  static_cast<const unsigned char *>(r.data)});
      }
      debug_kill_point("nb_local_write", request.version, m_rank);
      // Straight from the regions: no copy on the way to the file.
      std::vector<std::string> headers;
      write_file_atomic(join_path(m_rt.config().dir(), rank_regions_file(m_rt.config().prefix(),
                                                                         request.version, m_rank)),
                        rank_snapshot_pieces(snap, headers), m_rt.config().fsync());
    } catch (const std::exception &e) {
      problem = e.what();
    }
  }
  if (!problem.empty()) {
    send(0, k_tag_done,
         Writer()
             .put(epoch)
             .put(std::uint8_t{0})
             .put(request.version)
             .put(step)
             .put(std::uint64_t{0})
             .put_text("rank " + std::to_string(m_rank) + ": " + problem)
             .take());
    m_done_sent = true;
    return;
  }
  for (int dest = 0; dest < m_size; ++dest) {
    Writer w;
    w.put(epoch).put_bytes(marks[dest].data(), marks[dest].size());
    send(dest, k_tag_marker, w.take());
  }
  m_steps[epoch] = step;
  auto early = m_early_marks.find(epoch);
  if (early != m_early_marks.end()) {
    for (auto &[from, bytes] : early->second)
      p->on_marker(from, bytes.data(), bytes.size());
    m_early_marks.erase(early);
  }
}

void NonblockingProtocol::finish_record() {
  EpochParticipant *p = epoch_participant();
  std::string problem;
  if (!p->progress_epoch(problem)) return;
  std::vector<unsigned char> report;
  if (problem.empty()) {
    try {
      debug_kill_point("nb_record", m_taken_version, m_rank);
      write_file_atomic(join_path(m_rt.config().dir(), rank_channels_file(m_rt.config().prefix(),
                                                                          m_taken_version, m_rank)),
                        encode_channel_regions({p->epoch_snapshot(), p->epoch_log()}),
                        m_rt.config().fsync());
      report = p->epoch_report();
    } catch (const std::exception &e) {
      problem = e.what();
    }
  }
  Writer w;
  w.put(m_taken).put(static_cast<std::uint8_t>(problem.empty())).put(m_taken_version);
  w.put(m_steps[m_taken]);
  w.put(static_cast<std::uint64_t>(report.size())).put_bytes(report.data(), report.size());
  if (!problem.empty()) w.put_text("rank " + std::to_string(m_rank) + ": " + problem);
  send(0, k_tag_done, w.take());
  m_done_sent = true;
}

void NonblockingProtocol::decide() {
  for (auto it = m_dones.begin(); it != m_dones.end();) {
    const std::uint64_t epoch = it->first;
    const auto &reports = it->second;
    std::string problem;
    for (const auto &[rank, d] : reports)
      if (!d.ok && problem.empty()) problem = d.problem;
    if (problem.empty() && static_cast<int>(reports.size()) < m_size) return;
    if (problem.empty()) {
      // Collectives and early messages across the cut (docs/PROTOCOL.md 8.6).
      std::vector<std::vector<unsigned char>> all;
      all.reserve(reports.size());
      for (const auto &[rank, d] : reports)
        all.push_back(d.report);
      try {
        problem = epoch_participant()->check_cut(all);
      } catch (const std::exception &e) {
        problem = e.what();
      }
    }
    const std::int64_t version = m_versions[epoch];
    if (problem.empty()) commit_version(epoch, version, problem);
    for (int dest = 0; dest < m_size; ++dest)
      send(dest, k_tag_outcome,
           Writer()
               .put(epoch)
               .put(version)
               .put(static_cast<std::uint8_t>(problem.empty()))
               .put_text(problem)
               .take());
    m_versions.erase(epoch);
    m_decided = std::max(m_decided, epoch);
    it = m_dones.erase(it);
  }
}

void NonblockingProtocol::commit_version(std::uint64_t epoch, std::int64_t version,
                                         std::string &problem) {
  try {
    AssemblyInput in;
    in.dir = m_rt.config().dir();
    in.prefix = m_rt.config().prefix();
    in.version = version;
    in.step = m_steps.count(epoch) ? m_steps[epoch] : 0;
    in.nranks = m_size;
    in.block_size = m_rt.config().block_size();
    in.fsync = m_rt.config().fsync();
    in.keep = m_rt.config().keep();
    in.header_config = m_rt.header_config();
    in.topology = m_rt.topology();
    const CommitRecord rec = assemble_version(in);
    log_info("checkpoint version " + std::to_string(version) + " (nonblocking, step " +
             std::to_string(rec.step) + "): " + human_bytes(double(rec.state_bytes)) +
             " committed");
  } catch (const std::exception &e) {
    problem = std::string("committing version ") + std::to_string(version) + ": " + e.what();
  }
  m_steps.erase(epoch);
}

void NonblockingProtocol::close(std::uint64_t epoch, std::int64_t version, bool committed,
                                const std::string &why) {
  if (epoch <= m_closed) return;
  if (m_taken == epoch) {
    if (EpochParticipant *p = epoch_participant()) p->close_epoch();
    if (!committed) {
      // This rank's files of a failed version (rank 0 removes them on commit).
      const std::string &dir = m_rt.config().dir(), &prefix = m_rt.config().prefix();
      try {
        remove_file(join_path(dir, rank_regions_file(prefix, version, m_rank)));
        remove_file(join_path(dir, rank_channels_file(prefix, version, m_rank)));
      } catch (const std::exception &) {
      }
    }
    m_taken = 0;
  }
  m_closed = epoch;
  m_requests.erase(m_requests.begin(), m_requests.upper_bound(epoch));
  m_early_marks.erase(m_early_marks.begin(), m_early_marks.upper_bound(epoch));
  if (m_rank != 0) m_steps.erase(m_steps.begin(), m_steps.upper_bound(epoch));
  m_rt.advance_version(version);
  if (committed) {
    debug_kill_point("nb_after_commit", version, m_rank);
    ++m_committed;
    m_rt.note_external_commit(version);
  } else {
    m_failure = "nonblocking checkpoint version " + std::to_string(version) + " failed: " + why;
    if (m_rank == 0) log_error(m_failure);
  }
}

void NonblockingProtocol::quiesce() {
  RuntimeScope scope;
  static const char *const k_left =
      "the rank left its checkpoint sites (ckpt_finalize, ckpt_checkpoint or ckpt_restart) "
      "before it took its local checkpoint";
  for (;;) {
    for (;;) {
      test_sends();
      poll_messages();
      auto next = next_request();
      if (next && m_taken == 0 && next->first == m_closed + 1) take_local(0, k_left);
      if (m_taken != 0 && !m_done_sent) finish_record();
      if (m_rank == 0) decide();
      if (m_taken == 0 && !next_request() && m_dones.empty()) break;
      sched_yield();
    }
    // Every epoch any rank knows of must be closed on every rank.
    std::uint64_t known = m_closed;
    if (!m_requests.empty()) known = std::max(known, m_requests.rbegin()->first);
    const std::uint64_t local[2] = {known, ~m_closed};
    std::uint64_t global[2] = {0, 0};
    check_mpi(MPI_Allreduce(local, global, 2, MPI_UINT64_T, MPI_MAX, m_comm.get()),
              "MPI_Allreduce (checkpoint epochs)");
    if (global[0] <= ~global[1]) break;
    sched_yield();
  }
  for (PendingSend &s : m_sends)
    check_mpi(MPI_Wait(&s.request, MPI_STATUS_IGNORE), "MPI_Wait (checkpoint marker)");
  m_sends.clear();
  m_trigger.clear_request();
  m_active = false;
}

} // namespace ckpt::detail
