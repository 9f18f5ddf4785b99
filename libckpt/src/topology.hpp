// A one-line summary of the node's hardware topology (hwloc), recorded in
// every checkpoint's metadata.
#ifndef CKPT_DETAIL_TOPOLOGY_HPP
#define CKPT_DETAIL_TOPOLOGY_HPP

#include <string>

namespace ckpt::detail {

/// E.g. "host=node01 packages=1 numa=1 cores=2 pus=2 memory=23.4GiB". Never throws.
std::string node_topology_summary() noexcept;

} // namespace ckpt::detail

#endif
