// Turns the configured signal into a flag that the next checkpoint site reads.
#ifndef CKPT_DETAIL_SIGNALS_HPP
#define CKPT_DETAIL_SIGNALS_HPP

namespace ckpt::detail {

class SignalWatch {
public:
  static SignalWatch &instance() noexcept;
  /// Catches `signal` (0: restores the previous disposition and stops).
  void install(int signal);
  /// True once per received signal burst; clears the flag.
  bool consume() noexcept;
  /// True when a signal arrived and was not consumed yet (one load).
  static bool pending() noexcept;

private:
  int m_signal = 0;
};

} // namespace ckpt::detail

#endif
