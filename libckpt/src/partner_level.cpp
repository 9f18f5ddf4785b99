#include "partner_level.hpp"

#include "error.hpp"
#include "mpi_util.hpp"

#include <algorithm>
#include <map>

namespace ckpt::detail {
namespace {

constexpr int k_tag_header = 7301;
constexpr int k_tag_payload = 7302;
constexpr std::uint64_t k_max_message = std::uint64_t{1} << 30;
/// Copies one sender may announce to one receiver (a chain).
constexpr std::uint64_t k_max_copies = 1u << 16;

class Requests {
public:
  void send(const void *data, std::uint64_t bytes, int peer, int tag, MPI_Comm comm) {
    post(const_cast<void *>(data), bytes, peer, tag, comm, true);
  }
  void receive(void *data, std::uint64_t bytes, int peer, int tag, MPI_Comm comm) {
    post(data, bytes, peer, tag, comm, false);
  }
  void wait_all() {
    if (m_requests.empty()) return;
    check_mpi(
        MPI_Waitall(static_cast<int>(m_requests.size()), m_requests.data(), MPI_STATUSES_IGNORE),
        "MPI_Waitall");
    m_requests.clear();
  }

private:
  /// Messages of at most k_max_message bytes (MPI counts are ints); a
  /// transfer of 0 bytes is one empty message.
  void post(void *data, std::uint64_t bytes, int peer, int tag, MPI_Comm comm, bool is_send) {
    auto *p = static_cast<unsigned char *>(data);
    do {
      const auto n = static_cast<int>(std::min(bytes, k_max_message));
      MPI_Request r = MPI_REQUEST_NULL;
      check_mpi(is_send ? MPI_Isend(p, n, MPI_BYTE, peer, tag, comm, &r)
                        : MPI_Irecv(p, n, MPI_BYTE, peer, tag, comm, &r),
                is_send ? "MPI_Isend" : "MPI_Irecv");
      m_requests.push_back(r);
      p += n;
      bytes -= static_cast<std::uint64_t>(n);
    } while (bytes > 0);
  }
  std::vector<MPI_Request> m_requests;
};

} // namespace

std::vector<IncomingCopy> exchange_copies(MPI_Comm comm, const std::vector<OutgoingCopy> &out,
                                          const std::vector<int> &dests,
                                          const std::vector<int> &sources) {
  // 1. Headers: count, then (record bytes, data bytes) per copy.
  std::map<int, std::vector<std::uint64_t>> headers;
  for (int d : dests)
    headers[d] = {0};
  for (const OutgoingCopy &c : out) {
    std::vector<std::uint64_t> &h = headers[c.dest];
    if (h.empty()) h = {0};
    ++h[0];
    h.push_back(c.record.size());
    h.push_back(c.bytes);
  }
  Requests sends;
  for (const auto &[dest, h] : headers)
    sends.send(h.data(), h.size() * sizeof(std::uint64_t), dest, k_tag_header, comm);
  std::vector<IncomingCopy> in;
  std::vector<std::pair<int, std::vector<std::uint64_t>>> announced;
  for (int src : sources) {
    MPI_Status status;
    check_mpi(MPI_Probe(src, k_tag_header, comm, &status), "MPI_Probe");
    int bytes = 0;
    check_mpi(MPI_Get_count(&status, MPI_BYTE, &bytes), "MPI_Get_count");
    std::vector<std::uint64_t> h(static_cast<std::size_t>(bytes) / sizeof(std::uint64_t));
    check_mpi(MPI_Recv(h.data(), bytes, MPI_BYTE, src, k_tag_header, comm, MPI_STATUS_IGNORE),
              "MPI_Recv");
    if (h.empty() || h[0] > k_max_copies || h.size() != 1 + 2 * h[0])
      throw FormatError("a partner copy's header from rank " + std::to_string(src) +
                        " is malformed");
    announced.emplace_back(src, std::move(h));
  }
  sends.wait_all();
  // 2. Payloads.
  Requests payload;
  for (auto &[src, h] : announced)
    for (std::uint64_t i = 0; i < h[0]; ++i) {
      IncomingCopy c;
      c.source = src;
      c.record.resize(h[1 + 2 * i]);
      c.data.resize(h[2 + 2 * i]);
      in.push_back(std::move(c));
    }
  for (IncomingCopy &c : in) {
    payload.receive(c.record.data(), c.record.size(), c.source, k_tag_payload, comm);
    payload.receive(c.data.data(), c.data.size(), c.source, k_tag_payload, comm);
  }
  for (const OutgoingCopy &c : out) {
    payload.send(c.record.data(), c.record.size(), c.dest, k_tag_payload, comm);
    payload.send(c.data, c.bytes, c.dest, k_tag_payload, comm);
  }
  payload.wait_all();
  return in;
}

} // namespace ckpt::detail
