#include "background_flush.hpp"

#include <chrono>

namespace ckpt::detail {
namespace {

BackgroundFlush::Outcome run_job(std::int64_t version, const std::function<void()> &job) noexcept {
  BackgroundFlush::Outcome out;
  out.version = version;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    job();
  } catch (...) {
    out.error = std::current_exception();
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

} // namespace

BackgroundFlush::~BackgroundFlush() {
  if (m_thread.joinable()) m_thread.join();
}

void BackgroundFlush::start(std::int64_t version, std::function<void()> job, bool background) {
  if (m_thread.joinable()) m_thread.join();
  m_done = false;
  if (!background) {
    m_outcome = run_job(version, job);
    m_done = true;
    return;
  }
  m_outcome.reset();
  m_thread = std::thread([this, version, job = std::move(job)] {
    m_outcome = run_job(version, job);
    m_done = true;
  });
}

std::optional<BackgroundFlush::Outcome> BackgroundFlush::wait() noexcept {
  if (m_thread.joinable()) m_thread.join();
  std::optional<Outcome> out = std::move(m_outcome);
  m_outcome.reset();
  return out;
}

std::optional<BackgroundFlush::Outcome> BackgroundFlush::poll() noexcept {
  if (m_thread.joinable() && !m_done.load()) return std::nullopt;
  return wait();
}

} // namespace ckpt::detail
