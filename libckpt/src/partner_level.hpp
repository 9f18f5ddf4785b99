// The partner level's transfers (docs/FORMAT.md, section 7): copies of
// local-level files (a rank's record and data of one version) sent between
// ranks on the runtime's own communicator, with nonblocking sends so that
// no pattern of senders and receivers can deadlock:
//   1. each sender sends each receiver the number and sizes of its copies,
//   2. each receiver learns them (it knows its senders), allocates, and
//      every copy moves in messages of at most 1 GiB.
// A failure before the exchange is agreed by the caller; nothing here can
// fail on one side only except the MPI calls themselves.
#ifndef CKPT_DETAIL_PARTNER_LEVEL_HPP
#define CKPT_DETAIL_PARTNER_LEVEL_HPP

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail {

struct OutgoingCopy {
  int dest = 0;
  std::string record;                  // the local commit record's bytes
  const unsigned char *data = nullptr; // the data file's bytes
  std::uint64_t bytes = 0;
};

struct IncomingCopy {
  int source = 0;
  std::string record;
  std::vector<unsigned char> data;
};

/// Point-to-point over `comm`: sends every copy of `out` and receives every
/// copy that the ranks of `sources` send (each of them sends this rank a
/// header, possibly of no copy; every rank of `out`'s dests is told alike).
std::vector<IncomingCopy> exchange_copies(MPI_Comm comm, const std::vector<OutgoingCopy> &out,
                                          const std::vector<int> &dests,
                                          const std::vector<int> &sources);

} // namespace ckpt::detail

#endif
