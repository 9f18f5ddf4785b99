// Conversions the generated Fortran wrappers use: Fortran sentinels
// (MPI_BOTTOM, MPI_IN_PLACE, MPI_STATUS[ES]_IGNORE), statuses, logicals, and
// request/message handles, including the layer's virtual ones.
#ifndef CKPT_PMPI_FORTRAN_SUPPORT_HPP
#define CKPT_PMPI_FORTRAN_SUPPORT_HPP

#include <mpi.h>

#include <array>
#include <vector>

namespace ckpt::detail::pmpi {

/// MPI_Fint elements of a Fortran status (MPI_STATUS_SIZE).
inline constexpr int fortran_status_size = static_cast<int>(sizeof(MPI_Status) / sizeof(MPI_Fint));
// True by construction where MPI_Fint is int (Open MPI): the check is for the others.
// NOLINTNEXTLINE(misc-redundant-expression)
static_assert(sizeof(MPI_Fint) == sizeof(int), "Fortran INTEGER arrays are passed as int arrays");

void *fortran_buffer(char *buf) noexcept;
bool is_fortran_status_ignore(const MPI_Fint *status) noexcept;
bool is_fortran_statuses_ignore(const MPI_Fint *statuses) noexcept;
inline MPI_Fint fortran_logical(int value) noexcept { return value ? 1 : 0; }

MPI_Fint request_to_fortran(MPI_Request request) noexcept;
MPI_Request request_from_fortran(MPI_Fint request) noexcept;
MPI_Fint message_to_fortran(MPI_Message message) noexcept;
MPI_Message message_from_fortran(MPI_Fint message) noexcept;

/// A Fortran status as a C status: copied in before the call (so MPI_ERROR
/// keeps the application's value), copied out by store().
class FortranStatus {
public:
  explicit FortranStatus(MPI_Fint *f) noexcept;
  MPI_Status *get() noexcept { return m_ignore ? MPI_STATUS_IGNORE : &m_status; }
  void store() noexcept;

private:
  MPI_Fint *m_f;
  bool m_ignore;
  MPI_Status m_status{};
};

/// Small-buffer array of C values converted from a Fortran array.
template <class T> class SmallArray {
public:
  explicit SmallArray(int n) : m_n(n) {
    if (n > static_cast<int>(m_inline.size())) m_heap.resize(static_cast<std::size_t>(n));
  }
  T *data() noexcept { return m_heap.empty() ? m_inline.data() : m_heap.data(); }
  [[nodiscard]] int size() const noexcept { return m_n; }

private:
  int m_n;
  std::array<T, 16> m_inline{};
  std::vector<T> m_heap;
};

class FortranStatuses {
public:
  FortranStatuses(MPI_Fint *f, int n);
  MPI_Status *get() noexcept { return m_ignore ? MPI_STATUSES_IGNORE : m_c.data(); }
  void store() noexcept;

private:
  MPI_Fint *m_f;
  bool m_ignore;
  SmallArray<MPI_Status> m_c;
};

class FortranRequests {
public:
  FortranRequests(MPI_Fint *f, int n);
  MPI_Request *get() noexcept { return m_c.data(); }
  void store() noexcept;

private:
  MPI_Fint *m_f;
  SmallArray<MPI_Request> m_c;
};

/// Output indices (Waitsome/Testsome): 0-based in C, 1-based in Fortran.
class FortranIndices {
public:
  FortranIndices(MPI_Fint *f, int n) : m_f(f), m_c(n) {}
  int *get() noexcept { return m_c.data(); }
  void store(int outcount) noexcept;

private:
  MPI_Fint *m_f;
  SmallArray<int> m_c;
};

} // namespace ckpt::detail::pmpi

#endif
