// Restores a rank's regions from its share of a chain (chain_model.hpp):
// opens the chain's files as plain read-only files, reads the planned ranges
// straight into the regions' memory with POSIX reads, and verifies each
// block against the newest hash while the next request is in flight (a
// reader thread runs ahead of the hashing). No MPI, no HDF5: every rank does
// this on its own, so a failure here never leaves a rank in a collective.
#ifndef CKPT_DETAIL_CHAIN_RESTORE_HPP
#define CKPT_DETAIL_CHAIN_RESTORE_HPP

#include "chain_model.hpp"
#include "posix_file.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::detail {

/// Where a region's bytes go.
struct RestoreTarget {
  unsigned char *data = nullptr;
  std::uint64_t bytes = 0;
};

/// One block that did not come back intact.
struct BlockDamage {
  int region = 0;
  std::uint64_t block = 0;
  std::int32_t file = -1; // index in RankChain::files of its source; -1: no file stores it
};

struct RestoreOptions {
  bool verify = true;         // hash every block against the newest hash
  std::size_t max_report = 1; // damaged blocks listed (all are counted)
  bool stop_on_damage = true; // stop reading at the first damaged block
  /// Superseded bytes bridged between two needed ranges; empty: from the
  /// device (device_bridge_bytes).
  std::optional<std::uint64_t> bridge_bytes;
};

struct RestoreReport {
  std::uint64_t bytes_read = 0;
  std::uint64_t requests = 0;
  std::uint64_t blocks_verified = 0;
  double read_seconds = 0;         // wall time of the data phase
  double verify_seconds = 0;       // time spent hashing (overlapped with reading)
  std::uint64_t damaged = 0;       // blocks that do not match their hash
  std::vector<BlockDamage> damage; // the first ones
};

class ChainRestorer {
public:
  /// Opens every file of `chain` (checked: regular, not a link, as large as
  /// rank 0 saw it). Throws IoError/FormatError naming the file.
  explicit ChainRestorer(const RankChain &chain);

  [[nodiscard]] const RankChain &chain() const noexcept { return m_chain; }
  [[nodiscard]] std::size_t files_opened() const noexcept { return m_files.size(); }
  [[nodiscard]] double open_seconds() const noexcept { return m_open_seconds; }
  [[nodiscard]] std::uint64_t bridge_bytes() const noexcept { return m_bridge; }

  /// Restores the regions of `targets` (ids of `chain().regions`, each target
  /// exactly as large as its row). When verifying, hashes every block
  /// against the newest hash and reports mismatches; a block no file stores
  /// is always reported. Throws IoError on a failed read.
  RestoreReport restore(const std::map<int, RestoreTarget> &targets, const RestoreOptions &options);

  /// "block 3 of rank 1 region 0 'grid' in ckpt.v000004.h5 does not match
  /// its stored hash (checkpoint version 4)".
  [[nodiscard]] std::string describe(const BlockDamage &damage) const;

private:
  void read_chunk(const ReadChunk &chunk, const std::map<int, RestoreTarget> &targets) const;

  const RankChain &m_chain;
  std::vector<ReadOnlyFile> m_files;
  double m_open_seconds = 0;
  std::uint64_t m_bridge = 0;
};

} // namespace ckpt::detail

#endif
