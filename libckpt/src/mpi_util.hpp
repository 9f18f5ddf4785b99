// MPI helpers: checked calls, an owning communicator, and collective
// agreement on success so that every rank reports the same outcome.
#ifndef CKPT_DETAIL_MPI_UTIL_HPP
#define CKPT_DETAIL_MPI_UTIL_HPP

#include <mpi.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace ckpt::detail {

/// Throws MpiError naming `call` unless rc == MPI_SUCCESS.
void check_mpi(int rc, const char *call);

bool mpi_finalized() noexcept;

/// Owns a communicator obtained by duplication. Never frees MPI_COMM_WORLD or
/// MPI_COMM_SELF, and frees nothing after MPI_Finalize.
class Comm {
public:
  Comm() noexcept = default;
  static Comm duplicate(MPI_Comm parent);
  ~Comm() { reset(); }
  Comm(Comm &&other) noexcept : m_comm(other.m_comm) { other.m_comm = MPI_COMM_NULL; }
  Comm &operator=(Comm &&other) noexcept;
  Comm(const Comm &) = delete;
  Comm &operator=(const Comm &) = delete;
  [[nodiscard]] MPI_Comm get() const noexcept { return m_comm; }
  void reset() noexcept;

private:
  MPI_Comm m_comm = MPI_COMM_NULL;
};

int comm_rank(MPI_Comm comm);
int comm_size(MPI_Comm comm);
std::uint64_t allreduce_sum(MPI_Comm comm, std::uint64_t value);
std::uint64_t allreduce_max(MPI_Comm comm, std::uint64_t value);
double allreduce_max(MPI_Comm comm, double value);
void broadcast(MPI_Comm comm, std::string &text, int root);
/// Collective: every rank's `bytes` at rank 0, one string per rank (empty
/// elsewhere).
std::vector<std::string> gather_at_root(MPI_Comm comm, const void *data, std::size_t bytes);
/// A barrier that sleeps while it waits (MPI_Ibarrier polled every
/// `poll_us`): the background flush meets the other ranks' without spinning
/// on a core the application computes on (blocking MPI calls busy-wait).
void sleeping_barrier(MPI_Comm comm, unsigned poll_us = 200);

/// Collective. Every rank passes the exception it caught (or null). If any
/// rank failed, every rank throws ckpt::Error with the status and message of
/// the lowest failing rank (prefixed with "rank N: " on the others).
void agree(MPI_Comm comm, const std::exception_ptr &local_error);

/// Runs `fn`, returning what it threw (or null): used to keep every rank in a
/// collective sequence even when one of them fails.
template <class F> std::exception_ptr capture(F &&fn) noexcept {
  try {
    fn();
    return nullptr;
  } catch (...) {
    return std::current_exception();
  }
}

} // namespace ckpt::detail

#endif
