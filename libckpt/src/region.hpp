// Protected memory regions of one rank and their dirty-tracking state.
#ifndef CKPT_DETAIL_REGION_HPP
#define CKPT_DETAIL_REGION_HPP

#include "global_region.hpp"

#include <ckpt/ckpt.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ckpt::detail {

/// Longest region name stored in a checkpoint (bytes, without the NUL).
constexpr std::size_t k_max_region_name = 63;

std::size_t type_size(ckpt_type type); // throws ArgumentError for bad types
/// The ckpt_type of an integer a caller passed, validated before it becomes
/// an enumerator (an out-of-range enum value is undefined behaviour in C++).
/// Throws ArgumentError naming `context` (e.g. "ckpt_protect: region 3 'x'").
ckpt_type type_from_integer(long long value, const std::string &context);
const char *type_name(ckpt_type type) noexcept;

struct Region {
  int id = 0;
  std::string name;
  void *data = nullptr;
  std::uint64_t count = 0;
  std::uint64_t elem_size = 1;
  ckpt_type type = CKPT_BYTE;
  /// Block hashes as of the last committed checkpoint (empty: no baseline,
  /// the next checkpoint writes every block of this region).
  std::vector<std::uint64_t> committed_hashes;
  /// A global region's piece (docs/FORMAT.md 2.5); ndims 0: a per-rank region.
  PieceRow piece;

  [[nodiscard]] bool is_global() const noexcept { return piece.ndims > 0; }

  [[nodiscard]] std::uint64_t bytes() const noexcept { return count * elem_size; }
};

/// Regions by id (ordered, so every rank walks them the same way).
class RegionRegistry {
public:
  /// Adds a region or moves an existing one. Re-protecting an id with another
  /// size or type drops its dirty-tracking baseline. Returns the region, a
  /// per-rank region until its piece is set (Runtime::protect_global).
  Region &protect(int id, const std::string &name, void *data, std::uint64_t count,
                  std::uint64_t elem_size, ckpt_type type);
  /// False when the id was not protected.
  bool unprotect(int id) noexcept;
  Region *find(int id) noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return m_regions.size(); }
  std::map<int, Region> &all() noexcept { return m_regions; }
  void clear() noexcept { m_regions.clear(); }

private:
  std::map<int, Region> m_regions;
};

} // namespace ckpt::detail

#endif
