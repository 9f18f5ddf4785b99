#include "signals.hpp"

#include "error.hpp"

#include <cerrno>
#include <csignal>

namespace ckpt::detail {
namespace {

volatile std::sig_atomic_t g_received = 0;
struct sigaction g_previous {};

extern "C" void ckpt_on_signal(int) { g_received = 1; }

} // namespace

SignalWatch &SignalWatch::instance() noexcept {
  static SignalWatch watch;
  return watch;
}

void SignalWatch::install(int signal) {
  if (signal == m_signal) return;
  if (m_signal != 0) {
    sigaction(m_signal, &g_previous, nullptr);
    m_signal = 0;
  }
  if (signal == 0) return;
  struct sigaction action {};
  action.sa_handler = ckpt_on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (sigaction(signal, &action, &g_previous) != 0)
    throw_errno(errno, "cannot install the checkpoint signal handler");
  m_signal = signal;
  g_received = 0;
}

bool SignalWatch::pending() noexcept { return g_received != 0; }

bool SignalWatch::consume() noexcept {
  if (!g_received) return false;
  g_received = 0;
  return true;
}

} // namespace ckpt::detail
