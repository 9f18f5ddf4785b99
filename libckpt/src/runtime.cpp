#include "runtime.hpp"

#include "block_hasher.hpp"
#include "catalog.hpp"
#include "checkpoint_file.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "global_storage.hpp"
#include "local_level.hpp"
#include "log.hpp"
#include "nonblocking_protocol.hpp"
#include "debug_hooks.hpp"
#include "participant.hpp"
#include "restart_source.hpp"
#include "runtime_scope.hpp"
#include "signals.hpp"
#include "topology.hpp"
#include "transfer_plan.hpp"

#include <algorithm>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <unistd.h>

#ifndef CKPT_VERSION_STRING
#define CKPT_VERSION_STRING "unknown"
#endif

namespace ckpt::detail {

std::vector<CheckpointParticipant *> &participants() {
  static std::vector<CheckpointParticipant *> list;
  return list;
}

void register_participant(CheckpointParticipant *participant) {
  participants().push_back(participant);
}
void unregister_participant(CheckpointParticipant *participant) {
  auto &list = participants();
  list.erase(std::remove(list.begin(), list.end(), participant), list.end());
}

// ---------------------------------------------------------------------------

Runtime::Runtime(MPI_Comm comm, Config config) : m_config(std::move(config)) {
  RuntimeScope scope;
  if (comm == MPI_COMM_NULL) throw ArgumentError("ckpt_init: the communicator is MPI_COMM_NULL");
  m_comm = Comm::duplicate(comm);
  m_rank = comm_rank(m_comm.get());
  m_size = comm_size(m_comm.get());
  set_log_rank(m_rank);
  set_log_level(m_config.log_level());
  m_tracking.configure(tracking_mode_from_name(m_config.dirty_tracking()), m_rank == 0);
  m_dir = m_config.dir();
  std::uint64_t next = 1;
  int had_checkpoints = 0;
  agree(m_comm.get(), capture([&] {
          if (m_rank != 0) return;
          make_directories(m_dir);
          static bool warned_shared = false; // once per process
          const std::string shared = shared_directory_warning(m_dir);
          if (!shared.empty() && !warned_shared) {
            warned_shared = true;
            log_warn(shared);
          }
          if (directory_is_writable(m_dir, m_read_only_why)) {
            m_read_only_why.clear();
            m_lock = DirectoryLock::acquire(m_dir, m_config.prefix(), "libckpt job");
            if (!m_lock.unsupported().empty()) log_warn(m_lock.unsupported());
          } else {
            log_warn("checkpoint directory " + m_dir + " is not writable (" + m_read_only_why +
                     "): this session can restart from it but not write checkpoints");
          }
          const Catalog catalog = Catalog::scan(m_dir, m_config.prefix());
          for (const IgnoredName &n : catalog.ignored())
            log_debug("ignoring " + join_path(m_dir, n.name) + ": " + n.reason);
          next = static_cast<std::uint64_t>(catalog.max_version()) + 1;
          had_checkpoints = catalog.newest_committed() ? 1 : 0;
        }));
  check_mpi(MPI_Bcast(&next, 1, MPI_UINT64_T, 0, m_comm.get()), "MPI_Bcast");
  // Versions on the local level may be newer than the global level's.
  m_local_dir = resolve_local_dir(m_config.local_dir(), m_dir, m_config.prefix());
  if (!m_local_dir.empty()) {
    std::vector<std::string> problems;
    const auto scanned =
        LocalLevel(m_local_dir, m_config.prefix(), m_rank, m_size, false).scan(problems);
    if (!scanned.empty()) m_local_newest = scanned.rbegin()->first;
    next =
        std::max(next, allreduce_max(m_comm.get(), static_cast<std::uint64_t>(m_local_newest)) + 1);
  } else {
    (void)allreduce_max(m_comm.get(), std::uint64_t{0});
  }
  check_mpi(MPI_Bcast(&had_checkpoints, 1, MPI_INT, 0, m_comm.get()), "MPI_Bcast");
  broadcast(m_comm.get(), m_read_only_why, 0);
  m_next_version = static_cast<std::int64_t>(next);
  m_had_checkpoints = had_checkpoints != 0;
  SignalWatch::instance().install(m_config.signal_number());
  start_requests();
}

Runtime::~Runtime() {
  (void)m_flush.wait(); // a flush still running (finalize was not called)
  // finalize() is the collective, error-reporting path; here only local cleanup.
  SignalWatch::instance().install(0);
}

std::vector<Region *> Runtime::regions_in_order() {
  std::vector<Region *> out;
  for (auto &[id, r] : m_regions.all())
    out.push_back(&r);
  return out;
}

void Runtime::protect(int id, const std::string &name, void *data, std::size_t count,
                      std::size_t elem_size, ckpt_type type) {
  Region &r = m_regions.protect(id, name, data, count, elem_size, type);
  // Restored once: protecting again (e.g. after a buffer swap) only moves the pointer.
  if (m_restart && m_restart->chain.regions.count(id) && m_restart->restored.insert(id).second)
    restore_late(r);
}

void Runtime::unprotect(int id) {
  if (!m_regions.unprotect(id))
    throw ArgumentError("ckpt_unprotect: region " + std::to_string(id) + " is not protected");
  m_tracking.forget(id);
}

std::optional<std::pair<int, std::size_t>> Runtime::locate(const void *data, std::size_t bytes) {
  const auto p = reinterpret_cast<std::uintptr_t>(data);
  for (auto &[id, r] : m_regions.all()) {
    if (id < 0 || !r.data) continue;
    const auto first = reinterpret_cast<std::uintptr_t>(r.data);
    if (p >= first && p - first <= r.bytes() && bytes <= r.bytes() - (p - first))
      return std::make_pair(id, static_cast<std::size_t>(p - first));
  }
  return std::nullopt;
}

void *Runtime::region_address(int id, std::size_t offset, std::size_t bytes) {
  Region *r = id >= 0 ? m_regions.find(id) : nullptr;
  if (!r || offset > r->bytes() || bytes > r->bytes() - offset) return nullptr;
  return static_cast<unsigned char *>(r->data) + offset;
}

void Runtime::set_tracking(int id, TrackingMode mode) {
  if (id < 0 || !m_regions.find(id))
    throw ArgumentError("ckpt_set_tracking: region " + std::to_string(id) + " is not protected");
  m_tracking.set_mode(id, mode);
}

void Runtime::append_stats_line(const CheckpointStats &s) noexcept {
  try {
    char line[512];
    std::snprintf(
        line, sizeof line,
        "{\"version\":%lld,\"step\":%lld,\"kind\":\"%s\",\"base_version\":%lld,"
        "\"state_bytes\":%llu,\"written_bytes\":%llu,\"blocks\":%llu,\"dirty_blocks\":%llu,"
        "\"seconds\":%.6f,\"nranks\":%d,\"levels\":%u,\"time_unix\":%lld}\n",
        static_cast<long long>(s.version), static_cast<long long>(s.step),
        s.base ? "base" : "delta", static_cast<long long>(s.base_version),
        static_cast<unsigned long long>(s.state_bytes),
        static_cast<unsigned long long>(s.written_bytes), static_cast<unsigned long long>(s.blocks),
        static_cast<unsigned long long>(s.dirty_blocks), s.seconds, m_size, s.levels,
        static_cast<long long>(std::time(nullptr)));
    // Never through a symbolic link, never into a FIFO or device.
    append_to_file(join_path(m_dir, m_config.prefix() + ".stats"), line);
  } catch (const std::exception &e) {
    log_warn(std::string("statistics line not written: ") + e.what());
  } catch (...) {
  }
}

bool Runtime::need_checkpoint() {
  RuntimeScope scope;
  if (m_nonblocking)
    throw StateError("ckpt_need_checkpoint: protocol = nonblocking takes checkpoints at "
                     "checkpoint sites: call ckpt_site(step) instead");
  // Bit 0: a signal; bit 1: a request (API call or rank 0's timer).
  int mine = (SignalWatch::instance().consume() ? 1 : 0) | (local_request_due() ? 2 : 0), any = 0;
  check_mpi(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_BOR, m_comm.get()), "MPI_Allreduce");
  if (any & 1) {
    m_signal_requested = true;
    if (m_rank == 0) log_info("checkpoint requested by a signal");
  }
  return m_signal_requested || (any & 2) != 0;
}

void Runtime::finalize() {
  RuntimeScope scope;
  if (m_nonblocking) m_nonblocking->quiesce();
  m_nonblocking.reset();
  // The pending flush ends; the newest version goes to the global level if
  // no flush holds it (flush_every > 1), and the local level, no longer
  // needed, is removed. If the global level cannot hold it, it stays.
  if (m_local) {
    collect_flush(true);
    if (m_newest > m_newest_flushed) {
      flush_newest_from_local();
      collect_flush(true);
    }
    if (m_global_committed >= m_newest) {
      try {
        m_local->clear();
      } catch (const std::exception &e) {
        log_warn(std::string("could not remove the local level: ") + e.what());
      }
    } else if (m_rank == 0) {
      log_warn("checkpoint version " + std::to_string(m_newest) +
               " is not on the global level; it stays on the local level " + m_local_dir);
    }
  }
  m_restart.reset();
  SignalWatch::instance().install(0);
  m_regions.clear();
  m_tracking.clear();
  m_lock.release();
  m_flush_comm.reset();
  m_comm.reset();
}

} // namespace ckpt::detail
