// Rank 0's commit of a nonblocking checkpoint (docs/PROTOCOL.md 8): builds
// the version's shared checkpoint file (docs/FORMAT.md, a base) from every
// rank's local checkpoint files, in this process alone, then writes the
// commit record last and removes the local checkpoint files.
#ifndef CKPT_DETAIL_NONBLOCKING_COMMIT_HPP
#define CKPT_DETAIL_NONBLOCKING_COMMIT_HPP

#include "commit_record.hpp"

#include <cstdint>
#include <string>

namespace ckpt::detail {

struct AssemblyInput {
  std::string dir, prefix;
  std::int64_t version = 0;
  std::int64_t step = 0;
  int nranks = 0;
  std::uint64_t block_size = 0;
  bool fsync = true;
  int keep = 2;
  std::string header_config; ///< "key=value" lines
  std::string topology;
};

/// Throws ckpt::Error naming the file at fault; leaves no commit record then.
CommitRecord assemble_version(const AssemblyInput &in);

} // namespace ckpt::detail

#endif
