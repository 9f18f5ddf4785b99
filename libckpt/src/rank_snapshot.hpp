// A rank's local checkpoint in protocol = nonblocking (docs/PROTOCOL.md 8):
// the bytes of its protected regions, copied at its checkpoint site and
// written to a file of its own, then read by rank 0, which builds the
// version's shared checkpoint file from every rank's. Plain C++, no MPI.
//
// Format (host byte order; same machine architecture as the reader):
//   magic "CKPTNBR1" | u64 version | i64 step | u32 rank | u32 regions
//   regions x { i32 id | i32 type | u64 elem_size | u64 count | char name[64] | bytes }
#ifndef CKPT_DETAIL_RANK_SNAPSHOT_HPP
#define CKPT_DETAIL_RANK_SNAPSHOT_HPP

#include "fs.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail {

struct SnapshotRegion {
  int id = 0;
  int type = 0;
  std::uint64_t elem_size = 1;
  std::uint64_t count = 0;
  std::string name;
  const unsigned char *data = nullptr; ///< into the snapshot's buffer (or the region)
  [[nodiscard]] std::uint64_t bytes() const noexcept { return count * elem_size; }
};

struct RankSnapshot {
  std::int64_t version = 0;
  std::int64_t step = 0;
  int rank = 0;
  std::vector<SnapshotRegion> regions;
};

/// The serialised `snap` as pieces to write in order: headers kept in
/// `headers` (which must outlive the pieces), region bytes where they are
/// (no copy: the local write goes straight from the application's memory).
std::vector<ConstBytes> rank_snapshot_pieces(const RankSnapshot &snap,
                                             std::vector<std::string> &headers);
/// Serialises `snap` into one buffer (copies the region bytes).
std::string encode_rank_snapshot(const RankSnapshot &snap);
/// Parses `bytes`; the regions point into `bytes`, which must outlive them.
/// Throws FormatError naming `origin` for a bad magic, a truncated or
/// over-long buffer, or sizes that do not add up.
RankSnapshot decode_rank_snapshot(const std::string &bytes, const std::string &origin);

/// The channel file holds the layer's regions -301 and -302, each as a
/// u64 length and its bytes.
std::string encode_channel_regions(const std::vector<std::vector<unsigned char>> &blobs);
/// Throws FormatError naming `origin` when the lengths do not add up.
std::vector<std::string> decode_channel_regions(const std::string &bytes,
                                                const std::string &origin);

/// "<prefix>.v<version>.r<rank>.nbregions" and ".nbchannels".
std::string rank_regions_file(const std::string &prefix, std::int64_t version, int rank);
std::string rank_channels_file(const std::string &prefix, std::int64_t version, int rank);
/// True for a local checkpoint file name of `prefix` with a version at most
/// `version`.
bool is_stale_rank_file(const std::string &name, const std::string &prefix, std::int64_t version);

} // namespace ckpt::detail

#endif
