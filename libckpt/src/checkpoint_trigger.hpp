// When a rank's checkpoint site has work to do (protocol = nonblocking):
// a local request (ckpt_request_checkpoint, a signal, rank 0's timer), or
// an epoch in progress, or time to look for markers from other ranks. The
// common case (nothing pending) is a flag test, a counter and a clock read
// (the vDSO's clock_gettime, about 20 ns). Plain C++, no MPI.
#ifndef CKPT_DETAIL_CHECKPOINT_TRIGGER_HPP
#define CKPT_DETAIL_CHECKPOINT_TRIGGER_HPP

#include <cstdint>

namespace ckpt::detail {

/// Seconds on a monotonic clock.
double monotonic_seconds() noexcept;

class CheckpointTrigger {
public:
  /// Least time between two looks for markers when nothing is pending.
  static constexpr double k_poll_seconds = 100e-6;

  /// `interval`: seconds between timer requests (0: none; rank 0 only).
  void configure(double interval, double now) noexcept;
  /// Records when the sites started (the pace lead() assumes).
  void start(double now) noexcept { m_start = now; }
  void request() noexcept { m_requested = true; }
  [[nodiscard]] bool requested() const noexcept { return m_requested; }
  void clear_request() noexcept { m_requested = false; }

  /// Called at every site: true when the site must look at the protocol.
  bool due(bool active) noexcept {
    ++m_sites;
    if (active || m_requested) return true;
    return clock_due(monotonic_seconds());
  }
  /// Sites seen so far (the site number markers refer to).
  [[nodiscard]] std::uint64_t sites() const noexcept { return m_sites; }
  /// How many sites ahead a checkpoint requested now should be taken, so
  /// that ranks running at this rank's pace see the request before they
  /// reach it (at least 2).
  [[nodiscard]] std::uint64_t lead(double now) const noexcept;
  /// The clock part of due(), also testable alone; sets the request flag
  /// when the timer expired.
  bool clock_due(double now) noexcept;

private:
  std::uint64_t m_sites = 0;
  bool m_requested = false;
  double m_interval = 0;
  double m_next_timer = 0;
  double m_last_poll = 0;
  std::uint64_t m_sites_at_poll = 0;
  double m_site_seconds = 0; ///< recent time per site
  double m_start = 0;
  long m_forced_lead = -1; ///< CKPT_DEBUG_NB_LEAD (tests: ranks checkpoint at different sites)
};

} // namespace ckpt::detail

#endif
