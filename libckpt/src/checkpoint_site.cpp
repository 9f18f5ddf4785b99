// Checkpoint sites and requests (docs/PROTOCOL.md, sections 7 and 8): the
// parts of the Runtime that decide when a checkpoint is taken.
#include "runtime.hpp"

#include "checkpoint_trigger.hpp"
#include "error.hpp"
#include "nonblocking_protocol.hpp"
#include "runtime_scope.hpp"
#include "topology.hpp"

namespace ckpt::detail {

void Runtime::start_requests() {
  if (m_config.nonblocking())
    m_nonblocking = std::make_unique<NonblockingProtocol>(*this);
  else if (m_rank == 0 && m_config.checkpoint_interval() > 0)
    m_next_timer = monotonic_seconds() + m_config.checkpoint_interval();
}

bool Runtime::local_request_due() noexcept {
  bool due = m_local_request;
  m_local_request = false;
  if (m_next_timer > 0) {
    const double now = monotonic_seconds();
    if (now >= m_next_timer) {
      due = true;
      m_next_timer = now + m_config.checkpoint_interval();
    }
  }
  return due;
}

bool Runtime::site(std::int64_t step) {
  if (m_nonblocking) return m_nonblocking->site(step);
  if (!need_checkpoint()) return false;
  checkpoint(step);
  return true;
}

void Runtime::request_checkpoint() noexcept {
  if (m_nonblocking)
    m_nonblocking->request();
  else
    m_local_request = true;
}

void Runtime::advance_version(std::int64_t used) noexcept {
  if (used >= m_next_version) m_next_version = used + 1;
}

void Runtime::note_external_commit(std::int64_t version) noexcept {
  (void)version;
  // The regions' committed hashes are not known here: the next blocking
  // checkpoint writes a base.
  m_chain.reset();
  for (auto &[id, r] : m_regions.all())
    r.committed_hashes.clear();
  if (m_signal_requested) {
    m_signal_requested = false;
    if (m_config.exit_on_signal()) m_should_exit = true;
  }
}

std::string Runtime::header_config() const {
  std::string out;
  for (const auto &[key, entry] : m_config.entries())
    out += key + "=" + entry.value + "\n";
  out += "dirty_tracking_mechanism=" + m_tracking.mechanism() + "\n";
  return out;
}

const std::string &Runtime::topology() {
  if (m_topology.empty() && m_rank == 0) m_topology = node_topology_summary();
  return m_topology;
}

} // namespace ckpt::detail
