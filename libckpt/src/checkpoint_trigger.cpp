#include "checkpoint_trigger.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>

namespace ckpt::detail {

double monotonic_seconds() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void CheckpointTrigger::configure(double interval, double now) noexcept {
  m_interval = interval;
  m_next_timer = interval > 0 ? now + interval : 0;
  m_last_poll = now;
  m_start = now;
  // Tests force a lead (0: the next site) so that ranks take their local
  // checkpoints at different iterations and messages cross the cut.
  if (const char *lead = std::getenv("CKPT_DEBUG_NB_LEAD"); lead && *lead)
    m_forced_lead = std::strtol(lead, nullptr, 10);
}

bool CheckpointTrigger::clock_due(double now) noexcept {
  if (m_interval > 0 && now >= m_next_timer) {
    m_requested = true;
    m_next_timer = now + m_interval;
  }
  if (now - m_last_poll < k_poll_seconds && !m_requested) return false;
  if (m_sites > m_sites_at_poll)
    m_site_seconds = (now - m_last_poll) / static_cast<double>(m_sites - m_sites_at_poll);
  m_last_poll = now;
  m_sites_at_poll = m_sites;
  return true;
}

std::uint64_t CheckpointTrigger::lead(double now) const noexcept {
  // A request is seen at the first poll after it arrives: cover a few poll
  // intervals and the message's way, at the slower of the recent and the
  // average pace.
  if (m_forced_lead >= 0) return static_cast<std::uint64_t>(m_forced_lead);
  double per_site = m_site_seconds;
  if (m_sites > 0) per_site = std::max(per_site, (now - m_start) / static_cast<double>(m_sites));
  if (per_site <= 0) return 2;
  const double sites = std::ceil((4 * k_poll_seconds + 200e-6) / per_site) + 1;
  return sites < 2 ? 2 : (sites > 100000 ? 100000 : static_cast<std::uint64_t>(sites));
}

} // namespace ckpt::detail
