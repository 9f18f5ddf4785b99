#include "fortran_support.hpp"

#include "channel.hpp"

// Open MPI's Fortran sentinels: common blocks whose addresses the Fortran
// bindings compare against (defined in libmpi, unified with the program's).
extern "C" {
extern MPI_Fint mpi_fortran_bottom_;
extern MPI_Fint mpi_fortran_in_place_;
extern MPI_Fint mpi_fortran_status_ignore_;
extern MPI_Fint mpi_fortran_statuses_ignore_;
}

namespace ckpt::detail::pmpi {

void *fortran_buffer(char *buf) noexcept {
  if (buf == reinterpret_cast<char *>(&mpi_fortran_bottom_)) return MPI_BOTTOM;
  if (buf == reinterpret_cast<char *>(&mpi_fortran_in_place_)) return MPI_IN_PLACE;
  return buf;
}

bool is_fortran_status_ignore(const MPI_Fint *status) noexcept {
  return status == &mpi_fortran_status_ignore_;
}

bool is_fortran_statuses_ignore(const MPI_Fint *statuses) noexcept {
  return statuses == &mpi_fortran_statuses_ignore_;
}

MPI_Fint request_to_fortran(MPI_Request request) noexcept {
  if (is_virtual_request(request)) return RequestTable::fortran_of(slot_of(request));
  return PMPI_Request_c2f(request);
}

MPI_Request request_from_fortran(MPI_Fint request) noexcept {
  if (RequestTable::is_virtual_fortran(request))
    return virtual_request(RequestTable::index_of_fortran(request));
  return PMPI_Request_f2c(request);
}

MPI_Fint message_to_fortran(MPI_Message message) noexcept {
  if (is_virtual_message(message))
    return RequestTable::fortran_of(static_cast<std::uint32_t>(ticket_of(message)));
  return PMPI_Message_c2f(message);
}

MPI_Message message_from_fortran(MPI_Fint message) noexcept {
  if (RequestTable::is_virtual_fortran(message))
    return virtual_message(RequestTable::index_of_fortran(message));
  return PMPI_Message_f2c(message);
}

FortranStatus::FortranStatus(MPI_Fint *f) noexcept : m_f(f), m_ignore(is_fortran_status_ignore(f)) {
  if (!m_ignore) PMPI_Status_f2c(f, &m_status);
}

void FortranStatus::store() noexcept {
  if (!m_ignore) PMPI_Status_c2f(&m_status, m_f);
}

FortranStatuses::FortranStatuses(MPI_Fint *f, int n)
    : m_f(f), m_ignore(is_fortran_statuses_ignore(f)), m_c(m_ignore ? 0 : n) {
  if (m_ignore) return;
  for (int i = 0; i < n; ++i)
    PMPI_Status_f2c(f + i * fortran_status_size, &m_c.data()[i]);
}

void FortranStatuses::store() noexcept {
  if (m_ignore) return;
  for (int i = 0; i < m_c.size(); ++i)
    PMPI_Status_c2f(&m_c.data()[i], m_f + i * fortran_status_size);
}

FortranRequests::FortranRequests(MPI_Fint *f, int n) : m_f(f), m_c(n) {
  for (int i = 0; i < n; ++i)
    m_c.data()[i] = request_from_fortran(f[i]);
}

void FortranRequests::store() noexcept {
  for (int i = 0; i < m_c.size(); ++i)
    m_f[i] = request_to_fortran(m_c.data()[i]);
}

void FortranIndices::store(int outcount) noexcept {
  if (outcount == MPI_UNDEFINED) return;
  for (int i = 0; i < outcount; ++i)
    m_f[i] = static_cast<MPI_Fint>(m_c.data()[i] + 1);
}

} // namespace ckpt::detail::pmpi

// Handle conversions for mixed-language programs: virtual requests and
// messages have negative Fortran handles.
extern "C" {
MPI_Fint MPI_Request_c2f(MPI_Request request) {
  return ckpt::detail::pmpi::request_to_fortran(request);
}
MPI_Request MPI_Request_f2c(MPI_Fint request) {
  return ckpt::detail::pmpi::request_from_fortran(request);
}
MPI_Fint MPI_Message_c2f(MPI_Message message) {
  return ckpt::detail::pmpi::message_to_fortran(message);
}
MPI_Message MPI_Message_f2c(MPI_Fint message) {
  return ckpt::detail::pmpi::message_from_fortran(message);
}
}
