#include "mpi_util.hpp"

#include "error.hpp"

#include <chrono>
#include <thread>
#include <vector>

namespace ckpt::detail {

void check_mpi(int rc, const char *call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
  throw MpiError(std::string(call) +
                 " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

bool mpi_finalized() noexcept {
  int finalized = 0;
  MPI_Finalized(&finalized);
  return finalized != 0;
}

Comm Comm::duplicate(MPI_Comm parent) {
  Comm c;
  check_mpi(MPI_Comm_dup(parent, &c.m_comm), "MPI_Comm_dup");
  return c;
}

Comm &Comm::operator=(Comm &&other) noexcept {
  if (this != &other) {
    reset();
    m_comm = other.m_comm;
    other.m_comm = MPI_COMM_NULL;
  }
  return *this;
}

void Comm::reset() noexcept {
  if (m_comm != MPI_COMM_NULL && m_comm != MPI_COMM_WORLD && m_comm != MPI_COMM_SELF &&
      !mpi_finalized())
    MPI_Comm_free(&m_comm);
  m_comm = MPI_COMM_NULL;
}

int comm_rank(MPI_Comm comm) {
  int r = 0;
  check_mpi(MPI_Comm_rank(comm, &r), "MPI_Comm_rank");
  return r;
}

int comm_size(MPI_Comm comm) {
  int s = 0;
  check_mpi(MPI_Comm_size(comm, &s), "MPI_Comm_size");
  return s;
}

std::uint64_t allreduce_sum(MPI_Comm comm, std::uint64_t value) {
  std::uint64_t out = 0;
  check_mpi(MPI_Allreduce(&value, &out, 1, MPI_UINT64_T, MPI_SUM, comm), "MPI_Allreduce");
  return out;
}

std::uint64_t allreduce_max(MPI_Comm comm, std::uint64_t value) {
  std::uint64_t out = 0;
  check_mpi(MPI_Allreduce(&value, &out, 1, MPI_UINT64_T, MPI_MAX, comm), "MPI_Allreduce");
  return out;
}

double allreduce_max(MPI_Comm comm, double value) {
  double out = 0;
  check_mpi(MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_MAX, comm), "MPI_Allreduce");
  return out;
}

void sleeping_barrier(MPI_Comm comm, unsigned poll_us) {
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Ibarrier(comm, &request), "MPI_Ibarrier");
  int done = 0;
  for (;;) {
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    std::this_thread::sleep_for(std::chrono::microseconds(poll_us));
  }
}

std::vector<std::string> gather_at_root(MPI_Comm comm, const void *data, std::size_t bytes) {
  const int rank = comm_rank(comm);
  const int n = static_cast<int>(bytes);
  std::vector<int> counts(rank == 0 ? static_cast<std::size_t>(comm_size(comm)) : 0), displs;
  check_mpi(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm), "MPI_Gather");
  int total = 0;
  for (int c : counts) {
    displs.push_back(total);
    total += c;
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  check_mpi(
      MPI_Gatherv(data, n, MPI_BYTE, all.data(), counts.data(), displs.data(), MPI_BYTE, 0, comm),
      "MPI_Gatherv");
  std::vector<std::string> out;
  for (std::size_t r = 0; r < counts.size(); ++r)
    out.push_back(
        all.substr(static_cast<std::size_t>(displs[r]), static_cast<std::size_t>(counts[r])));
  return out;
}

void broadcast(MPI_Comm comm, std::string &text, int root) {
  std::uint64_t size = text.size();
  check_mpi(MPI_Bcast(&size, 1, MPI_UINT64_T, root, comm), "MPI_Bcast");
  text.resize(size);
  if (size > 0)
    check_mpi(MPI_Bcast(text.data(), static_cast<int>(size), MPI_CHAR, root, comm), "MPI_Bcast");
}

void agree(MPI_Comm comm, const std::exception_ptr &local_error) {
  const int rank = comm_rank(comm);
  const int size = comm_size(comm);
  int mine = local_error ? rank : size;
  int first = size;
  check_mpi(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
  if (first == size) return;
  int status = CKPT_ERR_INTERNAL;
  std::string message;
  if (rank == first) {
    try {
      std::rethrow_exception(local_error);
    } catch (const Error &e) {
      status = e.status();
      message = e.what();
    } catch (const std::bad_alloc &) {
      status = CKPT_ERR_INTERNAL;
      message = "out of memory";
    } catch (const std::exception &e) {
      status = CKPT_ERR_INTERNAL;
      message = e.what();
    }
  }
  check_mpi(MPI_Bcast(&status, 1, MPI_INT, first, comm), "MPI_Bcast");
  broadcast(comm, message, first);
  if (rank == first) throw Error(static_cast<ckpt_status>(status), message);
  throw Error(static_cast<ckpt_status>(status), "rank " + std::to_string(first) + ": " + message);
}

} // namespace ckpt::detail
