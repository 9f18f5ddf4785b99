// The background flush: one job at a time (the partner copy and the global
// write of one version) on a thread of its own, started by a checkpoint
// after its local level committed and waited for by the next call that
// needs it. The job's outcome (success or the error, with its version) is
// kept until it is collected, so that a failure is reported at the next
// call rather than lost.
#ifndef CKPT_DETAIL_BACKGROUND_FLUSH_HPP
#define CKPT_DETAIL_BACKGROUND_FLUSH_HPP

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <thread>

namespace ckpt::detail {

class BackgroundFlush {
public:
  struct Outcome {
    std::int64_t version = 0;
    std::exception_ptr error; // null: the job succeeded
    double seconds = 0;       // wall time of the job
  };

  BackgroundFlush() = default;
  ~BackgroundFlush(); // waits for a running job
  BackgroundFlush(const BackgroundFlush &) = delete;
  BackgroundFlush &operator=(const BackgroundFlush &) = delete;

  /// Runs `job` for `version` on a new thread (`background`) or here, now.
  /// The previous job's outcome must have been collected (wait()).
  void start(std::int64_t version, std::function<void()> job, bool background);
  /// True while a job runs.
  [[nodiscard]] bool running() const noexcept { return m_thread.joinable() && !m_done.load(); }
  /// Waits for the job, if any, and hands over its outcome (once).
  std::optional<Outcome> wait() noexcept;
  /// The outcome of a finished job without waiting; nullopt while it runs.
  std::optional<Outcome> poll() noexcept;

private:
  std::thread m_thread;
  std::atomic<bool> m_done{false};
  std::optional<Outcome> m_outcome;
};

} // namespace ckpt::detail

#endif
